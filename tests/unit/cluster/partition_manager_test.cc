// Topics and partitions: names and settings validated, topics and their overrides survive a
// restart, a deleted topic's data is gone (and a re-created one starts empty), leftovers of
// interrupted operations are removed at start.
#include "cluster/partition_manager.h"

#include <fstream>

#include <gtest/gtest.h>

#include "cluster/errc.h"
#include "model/record_batch.h"
#include "raft/log_store.h"
#include "unit/cluster/images.h"
#include "unit/cluster/raft_loop.h"
#include "unit/storage/test_log.h"

namespace trib::cluster {
namespace {

using namespace std::chrono_literals;
using storage::test::make_batch;
using storage::test::temp_dir;

using test::raft_loop;

// Writes `records` records to the partition through its Raft group (this node alone).
void write(raft_loop& node, partition& p, int records, const std::string& value) {
    ASSERT_TRUE(node.until_leading(p));
    auto r = node.write(p, make_batch(records, 1000, value));
    ASSERT_EQ(r.code, replicate_errc::none);
}

TEST(topic_config, names_follow_kafkas_rule) {
    EXPECT_TRUE(validate_topic_name("orders.v1_EU-2").has_value());
    for (const char* bad : {"", ".", "..", "a/b", "caf\xc3\xa9", "with space"}) {
        auto r = validate_topic_name(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, errc::invalid_topic_name);
    }
    EXPECT_FALSE(validate_topic_name(std::string(250, 'a')).has_value());
    EXPECT_TRUE(validate_topic_name(std::string(249, 'a')).has_value());
}

TEST(topic_config, overrides_are_validated_and_applied) {
    EXPECT_TRUE(validate_config("cleanup.policy", "compact,delete").has_value());
    EXPECT_TRUE(validate_config("retention.ms", "-1").has_value());
    for (auto [name, value] : {std::pair{"cleanup.policy", "sometimes"},
                               {"retention.ms", "-2"},
                               {"retention.ms", "12abc"},
                               {"segment.bytes", "10"},
                               {"min.cleanable.dirty.ratio", "1.5"},
                               {"no.such.setting", "1"}}) {
        auto r = validate_config(name, value);
        ASSERT_FALSE(r.has_value()) << name << "=" << value;
        EXPECT_EQ(r.error().code, errc::invalid_config);
        EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().message;
    }
    topic_defaults d;
    d.retention_ms = 1234;
    auto s = effective_settings(d, {{"cleanup.policy", "compact"}, {"segment.bytes", "4096"}});
    EXPECT_TRUE(s.log.cleanup_compact);
    EXPECT_FALSE(s.log.cleanup_delete);
    EXPECT_EQ(s.log.segment_bytes, 4096u);
    EXPECT_EQ(s.log.retention_ms, 1234);  // the broker default
    auto described = describe_config(d, {{"segment.bytes", "4096"}});
    auto seg = std::find_if(described.begin(), described.end(),
                            [](const auto& e) { return e.name == "segment.bytes"; });
    ASSERT_NE(seg, described.end());
    EXPECT_EQ(seg->value, "4096");
    EXPECT_FALSE(seg->is_default);
}

TEST(partition_manager, topics_survive_a_restart_with_their_data) {
    temp_dir dir;
    test::images img;
    img.create("orders", 3, {{"retention.ms", "1000"}});
    int64_t end = 0;
    {
        raft_loop node(dir.path());
        auto& pm = node.open();
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        EXPECT_EQ(pm.cluster_id(), "test-cluster-id-000000");
        write(node, *pm.get("orders", 2), 2, "payload");
        end = pm.get("orders", 2)->log().end_offset();
        // Committed; Kafka offsets leave out Raft's own batch (the term's start).
        EXPECT_EQ(pm.get("orders", 2)->high_watermark(), 2);
        EXPECT_EQ(pm.get("orders", 2)->log_end(), 2);
    }
    raft_loop node(dir.path());
    auto& pm = node.open();
    EXPECT_EQ(pm.get("orders", 2), nullptr);  // nothing is served before the first image
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    auto t = pm.topic("orders");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->partitions, 3);
    EXPECT_EQ(t->configs.at("retention.ms"), "1000");
    auto part = pm.get("orders", 2);
    ASSERT_TRUE(node.until_leading(*part));
    // The data and its offsets are back, and a new term's entry follows them.
    EXPECT_GT(part->log().end_offset(), end);
    EXPECT_EQ(part->high_watermark(), 2);  // the same Kafka offsets as before the restart
    auto read = part->read(0, 1 << 20).value();
    EXPECT_NE(std::string(read.data.begin(), read.data.end()).find("payload"), std::string::npos);
    EXPECT_EQ(read.next_offset, 2);
    EXPECT_EQ(model::parse_batch_header(read.data)->base_offset, 0);  // rewritten to Kafka's
    EXPECT_EQ(part->settings().log.retention_ms, 1000);
    EXPECT_EQ(pm.topic_by_id(t->id)->name, "orders");
}

TEST(partition_manager, only_partitions_with_a_replica_here_are_opened) {
    temp_dir dir;
    test::images img;
    img.create("here", 2, {}, 1);
    img.create("there", 2, {}, 2);
    raft_loop node(dir.path());
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    EXPECT_NE(pm.get("here", 1), nullptr);
    EXPECT_EQ(pm.get("there", 0), nullptr);
    EXPECT_TRUE(pm.topic("there").has_value());  // known, served elsewhere
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "there-0"));
}

TEST(partition_manager, a_partition_from_before_replication_keeps_its_records) {
    temp_dir dir;
    {
        // The single-node layout: a plain log, every batch's leader epoch 0.
        auto log = storage::log::open(dir.path() / "topics" / "t-0", {}).value();
        auto b = make_batch(3, 1000, "before");
        ASSERT_TRUE(log->append(b, 1000).has_value());
        ASSERT_TRUE(log->flush().has_value());
    }
    test::images img;
    img.create("t", 1);
    raft_loop node(dir.path());
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    auto part = pm.get("t", 0);
    ASSERT_TRUE(node.until_leading(*part));
    EXPECT_EQ(part->high_watermark(), 3);  // committed by the first leader's term
    auto read = part->read(0, 1 << 20).value();
    EXPECT_NE(std::string(read.data.begin(), read.data.end()).find("before"), std::string::npos);
    auto next = node.write(*part, make_batch(1, 2000, "after"));
    ASSERT_EQ(next.code, replicate_errc::none);
    EXPECT_EQ(next.base_offset, 3);  // Kafka offsets go on where they were
}

// Retention on a Raft log: the Kafka offsets of what is left never shift, whenever the node
// stops. Each restart begins a term with an internal entry (a Raft offset that is no Kafka
// offset); the count of those below the new start lives in the snapshot, so the cleaner only
// names the new start and the Raft loop moves the snapshot point before any segment goes.
TEST(partition_manager, retention_never_shifts_kafka_offsets_across_a_restart) {
    temp_dir dir;
    test::images img;
    // Every record is from 1970: all closed segments are past retention.ms.
    img.create("t", 1, {{"retention.ms", "60000"}, {"segment.bytes", "1024"}});
    std::string value(300, 'v');
    for (int session = 0; session < 2; ++session) {
        raft_loop node(dir.path());
        auto& pm = node.open();
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        for (int i = 0; i < 4; ++i)
            write(node, *pm.get("t", 0), 1, value);
    }
    int64_t high = 0;
    size_t segments = 0;
    {
        // The cleaner runs (every 10 ms) but the Raft loop never ticks: nothing may go yet.
        raft_loop node(dir.path());
        auto& pm = node.open({}, 10ms);
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        auto part = pm.get("t", 0);
        ASSERT_TRUE(node.until_leading(*part));
        high = part->high_watermark();
        EXPECT_EQ(high, 8);
        segments = part->log().segment_count();
        ASSERT_GT(segments, 3u);
        node.drive([] { return false; }, 300ms);
        EXPECT_EQ(part->log().segment_count(), segments);
        EXPECT_EQ(part->log_start(), 0);
    }
    for (int session = 0; session < 2; ++session) {
        raft_loop node(dir.path());
        auto& pm = node.open({}, 10ms);
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        auto part = pm.get("t", 0);
        ASSERT_TRUE(node.until_leading(*part));
        EXPECT_EQ(part->high_watermark(), high);
        if (session == 0) {
            ASSERT_TRUE(node.drive([&] {
                node.tick(*part);
                return part->log_start() > 0;
            })) << "retention never moved the log start";
            EXPECT_LT(part->log().segment_count(), segments);
        }
        // The records left keep their offsets: the first one read is at the log start.
        int64_t start = part->log_start();
        EXPECT_GT(start, 0);
        auto read = part->read(start, 1 << 20).value();
        EXPECT_EQ(model::parse_batch_header(read.data)->base_offset, start);
        EXPECT_EQ(part->high_watermark(), high);
    }
    raft_loop node(dir.path());
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    auto part = pm.get("t", 0);
    ASSERT_TRUE(node.until_leading(*part));
    auto next = node.write(*part, make_batch(1, 2000, "after"));
    ASSERT_EQ(next.code, replicate_errc::none);
    EXPECT_EQ(next.base_offset, high);
}

TEST(partition_manager, partition_counts_follow_kafkas_rule) {
    EXPECT_TRUE(validate_partition_count(1).has_value());
    EXPECT_EQ(validate_partition_count(0).error().code, errc::invalid_partitions);
    EXPECT_EQ(validate_partition_count(partition_manager::max_partitions + 1).error().code,
              errc::invalid_partitions);
}

TEST(partition_manager, a_deleted_topic_is_gone_and_a_new_one_starts_empty) {
    temp_dir dir;
    test::images img;
    img.create("t", 2);
    {
        raft_loop node(dir.path());
        auto& pm = node.open();
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        write(node, *pm.get("t", 0), 3, "old");
        img.remove("t");
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        EXPECT_FALSE(pm.topic("t").has_value());
        EXPECT_EQ(pm.get("t", 0), nullptr);
        img.create("t", 1);
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        auto fresh = pm.get("t", 0);
        ASSERT_TRUE(node.until_leading(*fresh));
        auto read = fresh->log().read(0, 1 << 20).value();
        EXPECT_EQ(std::string(read.data.begin(), read.data.end()).find("old"), std::string::npos);
    }
    raft_loop node(dir.path());
    auto& again = node.open();
    ASSERT_TRUE(again.reconcile(img.now(), 1).has_value());
    EXPECT_EQ(again.topic("t")->partitions, 1);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "t-1"));
}

TEST(partition_manager, a_topic_deleted_and_recreated_while_down_starts_empty) {
    temp_dir dir;
    test::images img;
    img.create("t", 1);
    {
        raft_loop node(dir.path());
        auto& pm = node.open();
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        write(node, *pm.get("t", 0), 3, "old");
    }
    img.remove("t");
    img.create("t", 1);  // a new topic id under the old name
    img.create("gone-too", 1);
    {
        raft_loop node(dir.path());
        auto& pm = node.open();
        ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
        auto read = pm.get("t", 0)->log().read(0, 1 << 20).value();
        EXPECT_EQ(std::string(read.data.begin(), read.data.end()).find("old"), std::string::npos);
    }
    // And a topic deleted while down leaves nothing behind.
    img.remove("gone-too");
    raft_loop node(dir.path());
    auto& again = node.open();
    ASSERT_TRUE(again.reconcile(img.now(), 1).has_value());
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "gone-too-0"));
}

TEST(partition_manager, an_older_image_is_ignored) {
    temp_dir dir;
    test::images img;
    auto before = img.now();
    img.create("t", 1);
    raft_loop node(dir.path());
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    ASSERT_TRUE(pm.reconcile(before, 1).has_value());
    EXPECT_NE(pm.get("t", 0), nullptr);
}

TEST(partition_manager, new_partitions_and_settings_follow_the_image) {
    temp_dir dir;
    test::images img;
    img.create("t", 1);
    raft_loop node(dir.path());
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    img.grow("t", 3);
    img.set_configs("t", {{"cleanup.policy", "compact"}});
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    ASSERT_NE(pm.get("t", 3), nullptr);
    EXPECT_TRUE(pm.get("t", 0)->settings().log.cleanup_compact);
    EXPECT_TRUE(pm.get("t", 3)->settings().log.cleanup_compact);
    EXPECT_NE(pm.get("t", 0)->group(), pm.get("t", 3)->group());
}

TEST(partition_manager, the_single_node_metadata_file_is_read_for_the_upgrade) {
    temp_dir dir;
    EXPECT_FALSE(partition_manager::read_legacy(dir.path()).value().has_value());
    std::ofstream(dir.path() / "metadata.json")
        << R"({"cluster_id":"abc","topics":[{"name":"orders","id":")" << std::string(32, 'a')
        << R"(","partitions":3,"configs":{"retention.ms":"5"}}]})";
    auto legacy = partition_manager::read_legacy(dir.path()).value();
    ASSERT_TRUE(legacy.has_value());
    EXPECT_EQ(legacy->cluster_id, "abc");
    ASSERT_EQ(legacy->topics.size(), 1u);
    EXPECT_EQ(legacy->topics[0].partitions, 3);
    EXPECT_EQ(legacy->topics[0].id[0], 0xaa);
    EXPECT_EQ(legacy->topics[0].configs.at("retention.ms"), "5");
    ASSERT_TRUE(partition_manager::retire_legacy(dir.path()).has_value());
    EXPECT_FALSE(partition_manager::read_legacy(dir.path()).value().has_value());
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "metadata.json.migrated"));
    std::ofstream(dir.path() / "metadata.json") << "{not json";
    auto bad = partition_manager::read_legacy(dir.path());
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("unreadable"), std::string::npos);
}

}  // namespace
}  // namespace trib::cluster
