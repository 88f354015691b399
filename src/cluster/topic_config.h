// Topic settings: the Kafka names a topic may override (cleanup.policy, retention.ms, ...),
// their defaults from the broker configuration, validation, and the storage settings they
// become. A topic stores only its overrides; the effective value is the override or the
// default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/result.h"
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

enum class value_type { string, int32, int64, ratio, list };

struct config_entry {
    std::string name;
    std::string value;
    bool is_default;  // not overridden by the topic
    value_type type;
};

struct topic_settings {
    storage::log_config log;
    bool log_append_time = false;  // message.timestamp.type=LogAppendTime
};

// Every setting a topic has, with the value in force.
std::vector<config_entry> describe_config(const topic_defaults& defaults,
                                          const config_overrides& overrides);
// The type of a known setting (nullopt for an unknown name).
std::optional<value_type> type_of(std::string_view name);
// Checks one override: a known name and a valid value (INVALID_CONFIG with a message).
result<void, error> validate_config(std::string_view name, std::string_view value);
// The effective settings; the overrides must have been validated.
topic_settings effective_settings(const topic_defaults& defaults,
                                  const config_overrides& overrides);

// Kafka's topic name rule: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
result<void, error> validate_topic_name(std::string_view name);

}  // namespace trib::cluster
