// Topics and partitions: names and settings validated, topics and their overrides survive a
// restart, a deleted topic's data is gone (and a re-created one starts empty), leftovers of
// interrupted operations are removed at start.
#include "cluster/partition_manager.h"

#include <fstream>

#include <gtest/gtest.h>

#include "cluster/errc.h"
#include "model/record_batch.h"
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
    std::string cluster_id;
    {
        auto pm = open_pm(dir.path());
        cluster_id = pm->cluster_id();
        EXPECT_EQ(cluster_id.size(), 22u);
        ASSERT_TRUE(pm->create_topic("orders", 3, {{"retention.ms", "1000"}}, false).has_value());
        auto b = make_batch(2, 1000, "payload");
        ASSERT_TRUE(pm->get("orders", 2)->log().append(b, 1000).has_value());
    }
    auto pm = open_pm(dir.path());
    EXPECT_EQ(pm->cluster_id(), cluster_id);
    auto t = pm->topic("orders");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->partitions, 3);
    EXPECT_EQ(t->configs.at("retention.ms"), "1000");
    EXPECT_EQ(pm->get("orders", 2)->log().end_offset(), 2);
    EXPECT_EQ(pm->get("orders", 2)->settings().log.retention_ms, 1000);
    EXPECT_EQ(pm->topic_by_id(t->id)->name, "orders");
}

TEST(partition_manager, bad_requests_are_refused_with_their_reason) {
    temp_dir dir;
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->create_topic("t", 1, {}, false).has_value());
    EXPECT_EQ(pm->create_topic("t", 1, {}, false).error().code, errc::topic_exists);
    EXPECT_EQ(pm->create_topic("u", 0, {}, false).error().code, errc::invalid_partitions);
    EXPECT_EQ(pm->create_topic("bad/name", 1, {}, false).error().code, errc::invalid_topic_name);
    EXPECT_EQ(pm->create_topic("u", 1, {{"retention.ms", "x"}}, false).error().code,
              errc::invalid_config);
    EXPECT_EQ(pm->delete_topic("nope").error().code, errc::unknown_topic);
    EXPECT_EQ(pm->add_partitions("t", 1, false).error().code, errc::invalid_partitions);
    // validate_only checks without creating.
    ASSERT_TRUE(pm->create_topic("v", 2, {}, true).has_value());
    EXPECT_FALSE(pm->topic("v").has_value());
}

TEST(partition_manager, a_deleted_topic_is_gone_and_a_new_one_starts_empty) {
    temp_dir dir;
    auto pm = open_pm(dir.path());
    ASSERT_TRUE(pm->create_topic("t", 2, {}, false).has_value());
    auto b = make_batch(3, 1000, "old");
    ASSERT_TRUE(pm->get("t", 0)->log().append(b, 1000).has_value());
    ASSERT_TRUE(pm->delete_topic("t").has_value());
    EXPECT_FALSE(pm->topic("t").has_value());
    EXPECT_EQ(pm->get("t", 0), nullptr);
    ASSERT_TRUE(pm->create_topic("t", 1, {}, false).has_value());
    EXPECT_EQ(pm->get("t", 0)->log().end_offset(), 0);
    pm.reset();
    auto again = open_pm(dir.path());
    EXPECT_EQ(again->topic("t")->partitions, 1);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "t-1"));
}

TEST(partition_manager, partitions_grow_and_leftovers_are_removed_at_start) {
    temp_dir dir;
    {
        auto pm = open_pm(dir.path());
        ASSERT_TRUE(pm->create_topic("t", 1, {}, false).has_value());
        ASSERT_TRUE(pm->add_partitions("t", 4, false).has_value());
        EXPECT_NE(pm->get("t", 3), nullptr);
    }
    // A crash between deleting a topic from the metadata and removing its directories.
    std::filesystem::create_directories(dir.path() / "topics" / "gone-0");
    std::filesystem::create_directories(dir.path() / "topics" / ".deleted-x-0-abc");
    auto pm = open_pm(dir.path());
    EXPECT_EQ(pm->topic("t")->partitions, 4);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / "gone-0"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "topics" / ".deleted-x-0-abc"));
}

TEST(partition_manager, altered_settings_reach_the_logs_and_persist) {
    temp_dir dir;
    {
        auto pm = open_pm(dir.path());
        ASSERT_TRUE(pm->create_topic("t", 2, {}, false).has_value());
        ASSERT_TRUE(pm->set_configs("t", {{"cleanup.policy", "compact"}}, false).has_value());
        EXPECT_TRUE(pm->get("t", 1)->log().config().cleanup_compact);
        EXPECT_FALSE(pm->set_configs("t", {{"cleanup.policy", "never"}}, false).has_value());
        EXPECT_TRUE(pm->get("t", 1)->log().config().cleanup_compact);
    }
    auto pm = open_pm(dir.path());
    EXPECT_TRUE(pm->get("t", 0)->log().config().cleanup_compact);
}

TEST(partition_manager, an_unreadable_metadata_file_is_an_error_not_an_empty_node) {
    temp_dir dir;
    { auto pm = open_pm(dir.path()); }
    std::ofstream(dir.path() / "metadata.json") << "{ not json";
    auto pm = partition_manager::open(dir.path(), topic_defaults{}, 1h);
    ASSERT_FALSE(pm.has_value());
    EXPECT_NE(pm.error().message.find("metadata.json"), std::string::npos);
}

}  // namespace
}  // namespace trib::cluster
