// The controller's entries and snapshot on disk and on the wire: every command round-trips,
// and truncated, flipped or garbage input is refused with a reason, never trusted.
#include "cluster/core/codec.h"

#include <random>

#include <gtest/gtest.h>

#include "test_image.h"

namespace trib::cluster::core {
namespace {

using testing::log_image;
using testing::make_broker;
using testing::make_id;
using testing::make_topic;

std::vector<command> every_command() {
    topic t = make_topic("orders", 3, {{1, 2, 3}, {2, 3, 1}});
    t.configs = {{"cleanup.policy", "compact"}, {"retention.ms", "1000"}};
    return {
        init_cluster{"abcdefghijklmnopqrstuv"},
        register_broker{make_broker(4, 0xfeedface12345678ULL, "rack-1")},
        register_broker{make_broker(5)},
        fence_broker{4, 99},
        unfence_broker{4, 100},
        create_topic{t},
        delete_topic{make_id(3)},
        create_partitions{make_id(3), {{3, 1, 2}}},
        set_topic_configs{make_id(3), {{"segment.bytes", "1048576"}}},
        allocate_producer_ids{2, 1000},
        reassign_partition{make_id(3), 1, {3, 1, 4}},
        reassign_partition{make_id(3), 0, {}},  // a cancel
        finish_reassignment{make_id(3), 1, {3, 1, 4}},
        drain_broker{4, true},
        drain_broker{4, false},
    };
}

TEST(ControllerCodec, EveryCommandRoundTrips) {
    for (const auto& cmd : every_command()) {
        auto bytes = encode_command(cmd);
        auto back = decode_command(bytes);
        ASSERT_TRUE(back) << back.error();
        EXPECT_EQ(encode_command(*back), bytes);
        EXPECT_EQ(back->index(), cmd.index());
    }
}

TEST(ControllerCodec, EveryTruncationIsRefused) {
    for (const auto& cmd : every_command()) {
        auto bytes = encode_command(cmd);
        for (size_t n = 0; n < bytes.size(); ++n) {
            EXPECT_FALSE(decode_command(std::span(bytes.data(), n))) << n;
        }
        bytes.push_back(0);
        EXPECT_FALSE(decode_command(bytes));  // trailing bytes
    }
}

TEST(ControllerCodec, UnknownVersionsAndTypesAreRefused) {
    auto bytes = encode_command(init_cluster{"x"});
    bytes[0] = 2;
    auto bad_version = decode_command(bytes);
    ASSERT_FALSE(bad_version);
    EXPECT_NE(bad_version.error().find("version"), std::string::npos);
    bytes[0] = 1;
    bytes[1] = 77;
    auto bad_type = decode_command(bytes);
    ASSERT_FALSE(bad_type);
    EXPECT_NE(bad_type.error().find("type 77"), std::string::npos);
}

TEST(ControllerCodec, AHugeCountDoesNotAllocate) {
    // create_partitions with a claimed 2^32-1 partitions and no bytes behind the claim.
    std::vector<uint8_t> bytes = {1, 7};
    auto id = make_id(1);
    bytes.insert(bytes.end(), id.begin(), id.end());
    bytes.insert(bytes.end(), {0xff, 0xff, 0xff, 0xff});
    EXPECT_FALSE(decode_command(bytes));
}

TEST(ControllerCodec, BatchesCarryCommands) {
    auto batch = command_batch(allocate_producer_ids{3, 50}, 1234);
    auto commands = commands_of_batch(batch);
    ASSERT_TRUE(commands) << commands.error();
    ASSERT_EQ(commands->size(), 1u);
    EXPECT_EQ(std::get<allocate_producer_ids>(commands->front()).count, 50);
    batch[batch.size() - 1] ^= 0x01;  // inside the record: the CRC no longer matches
    EXPECT_FALSE(commands_of_batch(batch));
}

image sample_image() {
    log_image l(3);
    for (const auto& cmd : every_command()) {
        (void)l.run(cmd);
    }
    (void)l.run(create_topic{make_topic("other", 9, {{1}, {2}, {3}})});
    (void)l.run(fence_broker{2, 1});
    (void)l.run(reassign_partition{make_id(9), 1, {3, 1}});
    (void)l.run(drain_broker{3, true});
    return l.img;
}

TEST(ControllerSnapshot, RoundTrips) {
    image img = sample_image();
    ASSERT_FALSE(img.topics.empty());
    ASSERT_TRUE(img.brokers.at(2).fenced);
    ASSERT_EQ(img.topics.at("other").moving.size(), 1u);
    ASSERT_EQ(img.draining, (std::set<node_id>{3}));
    auto bytes = encode_image(img);
    auto back = decode_image(bytes);
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(*back, img);
    EXPECT_EQ(decode_image(encode_image(image{}))->applied_offset, -1);
}

TEST(ControllerSnapshot, AVersionOneSnapshotGetsItsGroupsNumberedInNameOrder) {
    image img = sample_image();
    auto back = decode_image(encode_image_version(img, 1));
    ASSERT_TRUE(back) << back.error();
    uint64_t next = 1;
    for (const auto& [name, t] : back->topics) {
        ASSERT_EQ(t.groups.size(), t.partitions.size()) << name;
        for (uint64_t g : t.groups) {
            EXPECT_EQ(g, next++) << name;
        }
    }
    EXPECT_EQ(back->next_group_id, next);
}

TEST(ControllerSnapshot, EveryTruncationAndFlipIsRefused) {
    auto bytes = encode_image(sample_image());
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(decode_image(std::span(bytes.data(), n))) << n;
    }
    for (size_t i = 0; i < bytes.size(); ++i) {
        auto flipped = bytes;
        flipped[i] ^= 0x10;
        EXPECT_FALSE(decode_image(flipped)) << "flip at " << i;
    }
    auto longer = bytes;
    longer.push_back(0);
    auto refused = decode_image(longer);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find("header says"), std::string::npos);
}

TEST(ControllerSnapshot, GarbageIsRefused) {
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        std::vector<uint8_t> junk(rng() % 200);
        for (auto& b : junk)
            b = static_cast<uint8_t>(rng());
        EXPECT_FALSE(decode_image(junk));
        (void)decode_command(junk);  // must not crash; may happen to decode
    }
}

}  // namespace
}  // namespace trib::cluster::core
