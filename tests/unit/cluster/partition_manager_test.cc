// Topics and partitions: names and settings validated, topics and their overrides survive a
// restart, a deleted topic's data is gone (and a re-created one starts empty), leftovers of
// interrupted operations are removed at start.
#include "cluster/partition_manager.h"

#include <fstream>

#include <gtest/gtest.h>

#include "cluster/errc.h"
#include "model/record_batch.h"
#include "unit/cluster/images.h"
#include "unit/storage/test_log.h"

namespace trib::cluster {
namespace {

using namespace std::chrono_literals;
using storage::test::make_batch;
using storage::test::temp_dir;

std::unique_ptr<partition_manager> open_pm(const std::filesystem::path& dir) {
    auto pm = partition_manager::open(dir, topic_defaults{}, 1h);
    EXPECT_TRUE(pm.has_value()) << (pm ? "" : pm.error().message);
    return pm ? std::move(*pm) : nullptr;
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
    {
        auto pm = open_pm(dir.path());
        ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
        EXPECT_EQ(pm->cluster_id(), "test-cluster-id-000000");
        auto b = make_batch(2, 1000, "payload");
        ASSERT_TRUE(pm->get("orders", 2)->log().append(b, 1000).has_value());
    }
    auto pm = open_pm(dir.path());
    EXPECT_EQ(pm->get("orders", 2), nullptr);  // nothing is served before the first image
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    auto t = pm->topic("orders");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->partitions, 3);
    EXPECT_EQ(t->configs.at("retention.ms"), "1000");
    EXPECT_EQ(pm->get("orders", 2)->log().end_offset(), 2);
    EXPECT_EQ(pm->get("orders", 2)->settings().log.retention_ms, 1000);
    EXPECT_EQ(pm->topic_by_id(t->id)->name, "orders");
}

TEST(partition_manager, only_partitions_led_here_are_opened) {
    temp_dir dir;
    test::images img;
    img.create("here", 2, {}, 1);
    img.create("there", 2, {}, 2);
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    EXPECT_NE(pm->get("here", 1), nullptr);
    EXPECT_EQ(pm->get("there", 0), nullptr);
    EXPECT_TRUE(pm->topic("there").has_value());  // known, served elsewhere
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "there-0"));
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
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    auto b = make_batch(3, 1000, "old");
    ASSERT_TRUE(pm->get("t", 0)->log().append(b, 1000).has_value());
    img.remove("t");
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    EXPECT_FALSE(pm->topic("t").has_value());
    EXPECT_EQ(pm->get("t", 0), nullptr);
    img.create("t", 1);
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    EXPECT_EQ(pm->get("t", 0)->log().end_offset(), 0);
    pm.reset();
    auto again = open_pm(dir.path());
    ASSERT_TRUE(again->reconcile(img.now(), 1).has_value());
    EXPECT_EQ(again->topic("t")->partitions, 1);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "t-1"));
}

TEST(partition_manager, a_topic_deleted_and_recreated_while_down_starts_empty) {
    temp_dir dir;
    test::images img;
    img.create("t", 1);
    {
        auto pm = open_pm(dir.path());
        ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
        auto b = make_batch(3, 1000, "old");
        ASSERT_TRUE(pm->get("t", 0)->log().append(b, 1000).has_value());
    }
    img.remove("t");
    img.create("t", 1);  // a new topic id under the old name
    img.create("gone-too", 1);
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    EXPECT_EQ(pm->get("t", 0)->log().end_offset(), 0);
    // And a topic deleted while down leaves nothing behind.
    pm.reset();
    img.remove("gone-too");
    auto again = open_pm(dir.path());
    ASSERT_TRUE(again->reconcile(img.now(), 1).has_value());
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "gone-too-0"));
}

TEST(partition_manager, an_older_image_is_ignored) {
    temp_dir dir;
    test::images img;
    auto before = img.now();
    img.create("t", 1);
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    ASSERT_TRUE(pm->reconcile(before, 1).has_value());
    EXPECT_NE(pm->get("t", 0), nullptr);
}

TEST(partition_manager, new_partitions_and_settings_follow_the_image) {
    temp_dir dir;
    test::images img;
    img.create("t", 1);
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    img.grow("t", 3);
    img.set_configs("t", {{"cleanup.policy", "compact"}});
    ASSERT_TRUE(pm->reconcile(img.now(), 1).has_value());
    ASSERT_NE(pm->get("t", 3), nullptr);
    EXPECT_TRUE(pm->get("t", 0)->settings().log.cleanup_compact);
    EXPECT_TRUE(pm->get("t", 3)->settings().log.cleanup_compact);
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
