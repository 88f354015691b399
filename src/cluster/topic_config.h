// Topic settings: every topic setting Kafka 3.x documents (cleanup.policy, retention.ms,
// compression.type, ...), their defaults from the broker configuration, validation as Kafka
// does it (trimmed values, typed parsing, the same ranges and error text), and the storage
// and produce settings they become. Those that mean nothing here (preallocate, throttled
// replicas, tiered storage, ...) are accepted, validated and described as having no effect.
// A topic stores only its overrides, normalised; the effective value is the override or the
// default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/result.h"
#include "model/compression.h"
#include "storage/log.h"

namespace trib::cluster {

// The broker-wide defaults (from the node configuration).
struct topic_defaults {
    int64_t segment_bytes = int64_t{1} << 30;
    int64_t retention_ms = int64_t{7} * 24 * 3600 * 1000;
    int64_t retention_bytes = -1;
    int64_t max_message_bytes = 1024 * 1024 + 12;
    int64_t flush_ms = 1000;
};

using config_overrides = std::map<std::string, std::string>;

enum class value_type { boolean, string, int32, int64, ratio, list };

struct config_entry {
    std::string name;
    std::string value;
    bool is_default;  // not overridden by the topic
    value_type type;
    const char* documentation;  // Kafka's meaning, and whether it has an effect here
};

struct topic_settings {
    storage::log_config log;
    bool log_append_time = false;  // message.timestamp.type=LogAppendTime
    // compression.type: the codec batches are stored in; nullopt keeps the producer's.
    std::optional<model::compression> compression;
    // How far a CreateTime record's timestamp may lie before / after the broker's clock
    // (message.timestamp.before.max.ms / .after.max.ms, or the older .difference.max.ms).
    int64_t timestamp_before_max_ms = INT64_MAX;
    int64_t timestamp_after_max_ms = INT64_MAX;
    int32_t min_insync_replicas = 1;
};

// Every setting a topic has, with the value in force.
std::vector<config_entry> describe_config(const topic_defaults& defaults,
                                          const config_overrides& overrides);
// The type of a known setting (nullopt for an unknown name).
std::optional<value_type> type_of(std::string_view name);
// Checks one override: a known name and a valid value (INVALID_CONFIG with Kafka's message).
// Returns the value normalised as Kafka describes it (trimmed, "TRUE" -> "true", lists
// joined by commas).
result<std::string, error> validate_config(std::string_view name, std::string_view value);
// Checks a topic's whole set of overrides (each value, and min.compaction.lag.ms against
// max.compaction.lag.ms); returns them normalised.
result<config_overrides, error> validate_configs(const config_overrides& overrides);
// The effective settings; the overrides must have been validated.
topic_settings effective_settings(const topic_defaults& defaults,
                                  const config_overrides& overrides);

// Kafka's topic name rule: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
result<void, error> validate_topic_name(std::string_view name);

}  // namespace trib::cluster
