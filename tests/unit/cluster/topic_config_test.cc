// Every topic setting Kafka 3.x documents, one by one: a valid value is accepted (and
// normalised as Kafka describes it), an out-of-range or mistyped one refused with Kafka's
// message, an unknown name refused; and the effective settings follow them.
#include "cluster/topic_config.h"

#include <set>

#include <gtest/gtest.h>

#include "cluster/errc.h"

namespace trib::cluster {
namespace {

struct setting_case {
    const char* name;
    const char* valid;
    const char* normalised;  // what DescribeConfigs then shows
    const char* invalid;     // out of range or not of the type
    const char* why;         // part of the error message
};

const setting_case cases[] = {
    {"cleanup.policy", " compact , delete", "compact,delete", "sometimes", "String must be one of"},
    {"compression.gzip.level", "9", "9", "0", "between 1 and 9"},
    {"compression.lz4.level", "17", "17", "18", "no more than 17"},
    {"compression.type", "lz4", "lz4", "GZIP", "String must be one of"},
    {"compression.zstd.level", "-5", "-5", "23", "no more than 22"},
    {"delete.retention.ms", "0", "0", "-1", "at least 0"},
    {"file.delete.delay.ms", "60000", "60000", "x", "Not a number of type LONG"},
    {"flush.messages", "1", "1", "0", "at least 1"},
    {"flush.ms", "+5", "5", "-1", "at least 0"},
    {"follower.replication.throttled.replicas", "0:1, 1:2", "0:1,1:2", "0:x", "literal '*'"},
    {"index.interval.bytes", "0", "0", "4096.5", "Not a number of type INT"},
    {"leader.replication.throttled.replicas", "*", "*", "a", "literal '*'"},
    {"local.retention.bytes", "-2", "-2", "-3", "at least -2"},
    {"local.retention.ms", "-2", "-2", "-3", "at least -2"},
    {"max.compaction.lag.ms", "1", "1", "0", "at least 1"},
    {"max.message.bytes", "0", "0", "3000000000", "Not a number of type INT"},
    {"message.downconversion.enable", "FALSE", "false", "no", "either true or false"},
    {"message.format.version", "2.8", "2.8", "9.1", "not a valid version"},
    {"message.timestamp.after.max.ms", "0", "0", "-1", "at least 0"},
    {"message.timestamp.before.max.ms", "3600000", "3600000", "-1", "at least 0"},
    {"message.timestamp.difference.max.ms", "60000", "60000", "-5", "at least 0"},
    {"message.timestamp.type", "LogAppendTime", "LogAppendTime", "createtime",
     "String must be one of"},
    {"min.cleanable.dirty.ratio", "1", "1", "1.5", "no more than 1"},
    {"min.compaction.lag.ms", "100", "100", "-1", "at least 0"},
    {"min.insync.replicas", "2", "2", "0", "at least 1"},
    {"preallocate", " true ", "true", "1", "either true or false"},
    {"remote.log.copy.disable", "true", "true", "yes", "either true or false"},
    {"remote.log.delete.on.disable", "false", "false", "", "either true or false"},
    {"remote.storage.enable", "false", "false", "true", "Tiered Storage"},
    {"retention.bytes", "-5", "-5", "lots", "Not a number of type LONG"},
    {"retention.ms", "-1", "-1", "-2", "at least -1"},
    {"segment.bytes", "14", "14", "13", "at least 14"},
    {"segment.index.bytes", "4", "4", "3", "at least 4"},
    {"segment.jitter.ms", "0", "0", "-1", "at least 0"},
    {"segment.ms", "1", "1", "0", "at least 1"},
    {"unclean.leader.election.enable", "false", "false", "maybe", "either true or false"},
};

TEST(topic_config, every_kafka_topic_setting_is_validated_as_kafka_does) {
    std::set<std::string> tested;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        tested.insert(c.name);
        auto ok = validate_config(c.name, c.valid);
        ASSERT_TRUE(ok.has_value()) << ok.error().message;
        EXPECT_EQ(*ok, c.normalised);
        auto bad = validate_config(c.name, c.invalid);
        ASSERT_FALSE(bad.has_value()) << c.invalid;
        EXPECT_EQ(bad.error().code, errc::invalid_config);
        EXPECT_NE(bad.error().message.find(c.why), std::string::npos) << bad.error().message;
        EXPECT_NE(bad.error().message.find(std::string("for configuration ") + c.name),
                  std::string::npos)
            << bad.error().message;
    }
    // The table above covers every setting described, and nothing else is accepted.
    std::set<std::string> described;
    for (const auto& e : describe_config({}, {})) {
        described.insert(e.name);
        EXPECT_TRUE(e.is_default);
        EXPECT_NE(std::string(e.documentation), "") << e.name;
        EXPECT_TRUE(validate_config(e.name, e.value).has_value()) << e.name << "=" << e.value;
    }
    EXPECT_EQ(described, tested);
    auto unknown = validate_config("log.retention.ms", "1");  // a broker name, not a topic's
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().message, "Unknown topic config name: log.retention.ms");
}

TEST(topic_config, compaction_lags_are_checked_together) {
    EXPECT_TRUE(validate_configs({{"min.compaction.lag.ms", "10"}, {"max.compaction.lag.ms", "10"}})
                    .has_value());
    auto bad = validate_configs({{"min.compaction.lag.ms", "11"}, {"max.compaction.lag.ms", "10"}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("min.compaction.lag.ms (11) > max.compaction.lag.ms (10)"),
              std::string::npos);
    auto normalised = validate_configs({{"retention.ms", " 100 "}, {"preallocate", "TRUE"}});
    ASSERT_TRUE(normalised.has_value());
    EXPECT_EQ(*normalised, (config_overrides{{"retention.ms", "100"}, {"preallocate", "true"}}));
}

TEST(topic_config, effective_settings_follow_the_overrides) {
    topic_defaults d;
    auto t = effective_settings(d, {});
    EXPECT_FALSE(t.compression);  // producer: keep the producer's codec
    EXPECT_EQ(t.timestamp_before_max_ms, INT64_MAX);
    EXPECT_EQ(t.min_insync_replicas, 1);
    t = effective_settings(d, {{"compression.type", "zstd"},
                               {"message.timestamp.difference.max.ms", "1000"},
                               {"message.timestamp.after.max.ms", "50"},
                               {"min.insync.replicas", "2"},
                               {"cleanup.policy", "compact"},
                               {"max.compaction.lag.ms", "5000"},
                               {"min.compaction.lag.ms", "100"}});
    EXPECT_EQ(t.compression, model::compression::zstd);
    EXPECT_EQ(t.timestamp_before_max_ms, 1000);  // from the older setting (KIP-937)
    EXPECT_EQ(t.timestamp_after_max_ms, 50);
    EXPECT_EQ(t.min_insync_replicas, 2);
    EXPECT_TRUE(t.log.cleanup_compact);
    EXPECT_FALSE(t.log.cleanup_delete);
    EXPECT_EQ(t.log.segment_ms, 5000);  // a compacted topic rolls by its max lag
    EXPECT_EQ(t.log.min_compaction_lag_ms, 100);
    EXPECT_EQ(effective_settings(d, {{"compression.type", "uncompressed"}}).compression,
              model::compression::none);
}

}  // namespace
}  // namespace trib::cluster
