// Entries are v2 record batches: the term is partitionLeaderEpoch, Raft's own control batches
// are recognised by their control key, and every malformed input is an error, never a crash.
#include <gtest/gtest.h>

#include "base/big_endian.h"
#include "model/record_batch.h"
#include "raft/core/types.h"
#include "unit/raft/harness.h"

namespace trib::raft {
namespace {

using bytes = std::vector<uint8_t>;
using test::data_batch;
using test::stamped;

batch_bytes share(bytes b) {
    return std::make_shared<const bytes>(std::move(b));
}

bool refused(const result<entry>& r) {
    return !r.has_value() && r.error() == make_error_code(errc::invalid_batch);
}

// A control batch with Raft's config key (type 101) and a hand-made value, to forge
// malformed configs that make_config_batch would never write.
bytes forged_config(int32_t count, const std::vector<int32_t>& voters, term_t term = 1) {
    bytes key(4);
    big_endian::store(key.data(), 0, 2);
    big_endian::store(key.data() + 2, 101, 2);
    bytes value(6 + 4 * voters.size());
    big_endian::store(value.data(), 0, 2);
    big_endian::store(value.data() + 2, static_cast<uint32_t>(count), 4);
    for (size_t i = 0; i < voters.size(); ++i) {
        big_endian::store(value.data() + 6 + 4 * i, static_cast<uint32_t>(voters[i]), 4);
    }
    model::record r{.timestamp = 0, .key = std::move(key), .value = std::move(value)};
    auto b = model::build_batch(
        {.partition_leader_epoch = static_cast<int32_t>(term), .control = true}, std::span(&r, 1));
    EXPECT_TRUE(b.has_value());
    return std::move(*b);
}

TEST(entries, data_batch_term_comes_from_partition_leader_epoch) {
    bytes b = data_batch("x", 3);
    model::set_base_offset(b, 40);
    model::set_partition_leader_epoch(b, 7);
    auto e = entry_from_batch(share(b));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->term, 7);
    EXPECT_EQ(e->base_offset, 40);
    EXPECT_EQ(e->last_offset, 42);  // three records
    EXPECT_EQ(e->kind, entry_kind::data);
    EXPECT_EQ(e->size(), b.size());
}

TEST(entries, leader_start_batch_is_recognised) {
    entry e = stamped(make_leader_start_batch(3, 1234), 10, 5);
    EXPECT_EQ(e.kind, entry_kind::leader_start);
    EXPECT_EQ(e.term, 5);
    EXPECT_EQ(e.base_offset, 10);
    EXPECT_EQ(e.last_offset, 10);
    auto header = model::verify_batch(e.bytes());
    ASSERT_TRUE(header.has_value());
    EXPECT_TRUE(header->is_control());  // Kafka consumers skip it
    EXPECT_FALSE(config_of(e).has_value());
}

TEST(entries, config_batch_round_trips) {
    for (const configuration& c : {configuration{{1}}, configuration{{1, 2, 3}},
                                   configuration{{-5, 0, 7, 1 << 30}}, configuration{}}) {
        entry e = stamped(make_config_batch(c, 99), 3, 2);
        EXPECT_EQ(e.kind, entry_kind::config);
        EXPECT_EQ(e.term, 2);
        auto back = config_of(e);
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, c);
    }
}

TEST(entries, kafka_control_batch_of_another_type_is_data) {
    // Type 0 is Kafka's abort marker: not Raft's, so the state machine treats it as data.
    bytes key(4, 0);
    model::record r{.key = key, .value = bytes(6, 0)};
    auto b = model::build_batch({.partition_leader_epoch = 1, .control = true}, std::span(&r, 1));
    ASSERT_TRUE(b.has_value());
    auto e = entry_from_batch(share(*b));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->kind, entry_kind::data);
}

TEST(entries, config_of_refuses_non_config_entries) {
    EXPECT_FALSE(config_of(test::data_entry(0, 1)).has_value());
    // A data batch whose kind was mislabelled still does not parse as a config.
    entry e = test::data_entry(0, 1);
    e.kind = entry_kind::config;
    EXPECT_FALSE(config_of(e).has_value());
}

TEST(entries, corrupt_batch_is_refused) {
    bytes good = data_batch("payload", 2);
    model::set_partition_leader_epoch(good, 1);
    ASSERT_TRUE(entry_from_batch(share(good)).has_value());
    // A flipped bit anywhere under the CRC fails verification.
    for (size_t i = model::batch_crc_start; i < good.size(); ++i) {
        bytes bad = good;
        bad[i] ^= 0x10;
        EXPECT_TRUE(refused(entry_from_batch(share(bad)))) << "byte " << i;
    }
}

TEST(entries, truncated_empty_and_padded_batches_are_refused) {
    bytes good = data_batch("payload");
    model::set_partition_leader_epoch(good, 1);
    for (size_t n = 0; n < good.size(); ++n) {
        EXPECT_TRUE(refused(entry_from_batch(share(bytes(good.begin(), good.begin() + n)))))
            << "length " << n;
    }
    EXPECT_TRUE(refused(entry_from_batch(nullptr)));
    // Trailing bytes: an entry is exactly one batch.
    bytes padded = good;
    padded.push_back(0);
    EXPECT_TRUE(refused(entry_from_batch(share(padded))));
    // Two batches back to back are not one entry either.
    bytes two = good;
    two.insert(two.end(), good.begin(), good.end());
    EXPECT_TRUE(refused(entry_from_batch(share(two))));
}

TEST(entries, negative_epoch_is_refused) {
    bytes b = data_batch("x");  // a client batch: epoch -1, never stamped by a leader
    EXPECT_TRUE(refused(entry_from_batch(share(b))));
    model::set_partition_leader_epoch(b, -7);
    EXPECT_TRUE(refused(entry_from_batch(share(b))));
    model::set_partition_leader_epoch(b, 0);
    EXPECT_TRUE(entry_from_batch(share(b)).has_value());
}

TEST(entries, malformed_config_values_are_refused) {
    auto parse = [](const bytes& b) -> result<configuration> {
        auto e = entry_from_batch(share(b));
        EXPECT_TRUE(e.has_value());
        if (!e) return unexpected(e.error());
        EXPECT_EQ(e->kind, entry_kind::config);
        return config_of(*e);
    };
    ASSERT_TRUE(parse(forged_config(3, {1, 2, 3})).has_value());   // the forgery itself is fine
    EXPECT_FALSE(parse(forged_config(3, {3, 1, 2})).has_value());  // unsorted
    EXPECT_FALSE(parse(forged_config(3, {1, 1, 2})).has_value());  // duplicate
    EXPECT_FALSE(parse(forged_config(3, {1, 2})).has_value());     // count above the voters
    EXPECT_FALSE(parse(forged_config(1, {1, 2})).has_value());     // count below the voters
    EXPECT_FALSE(parse(forged_config(-1, {})).has_value());        // negative count
    EXPECT_FALSE(parse(forged_config(0x7fffffff, {1})).has_value());
    // make_config_batch writes what it is given; reading an unsorted set back still fails.
    entry e = stamped(make_config_batch(configuration{{2, 1}}, 0), 0, 1);
    EXPECT_FALSE(config_of(e).has_value());
}

TEST(entries, short_config_value_is_refused) {
    // A value too short to hold its version and count.
    bytes key(4);
    big_endian::store(key.data(), 0, 2);
    big_endian::store(key.data() + 2, 101, 2);
    for (size_t len : {0, 1, 5}) {
        model::record r{.key = key, .value = bytes(len, 0)};
        auto b =
            model::build_batch({.partition_leader_epoch = 1, .control = true}, std::span(&r, 1));
        ASSERT_TRUE(b.has_value());
        auto ent = entry_from_batch(share(*b));
        ASSERT_TRUE(ent.has_value());
        EXPECT_FALSE(config_of(*ent).has_value()) << "value length " << len;
    }
    // A null value too.
    model::record r{.key = key, .value = std::nullopt};
    auto b = model::build_batch({.partition_leader_epoch = 1, .control = true}, std::span(&r, 1));
    ASSERT_TRUE(b.has_value());
    auto ent = entry_from_batch(share(*b));
    ASSERT_TRUE(ent.has_value());
    EXPECT_FALSE(config_of(*ent).has_value());
}

TEST(entries, every_bit_flip_of_a_config_batch_is_caught_or_harmless) {
    // Fuzz-style: flipping any bit must give an error or a well-formed entry, never a crash;
    // bits under the CRC must give an error.
    const bytes good = *stamped(make_config_batch(configuration{{1, 2, 3}}, 5), 0, 1).batch;
    constexpr size_t magic_at = 16;  // magic, CRC and everything under the CRC
    for (size_t i = 0; i < good.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            bytes bad = good;
            bad[i] ^= static_cast<uint8_t>(1 << bit);
            auto e = entry_from_batch(share(bad));
            if (i >= magic_at) {
                EXPECT_FALSE(e.has_value()) << "byte " << i << " bit " << bit;
            } else if (e) {
                (void)config_of(*e);
            }
        }
    }
}

}  // namespace
}  // namespace trib::raft
