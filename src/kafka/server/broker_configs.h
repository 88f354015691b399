// The broker's settings as DescribeConfigs shows them on the BROKER resource: Kafka's names,
// types and sources for what this node was configured with (all read-only: they change in
// the configuration file, not through AlterConfigs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trib::kafka {

struct broker_config;

struct broker_setting {
    std::string name;
    std::optional<std::string> value;  // null: not set (broker.rack)
    int8_t type;                       // DescribeConfigs' config_type
    int8_t source;                     // STATIC_BROKER_CONFIG or DEFAULT_CONFIG
    const char* documentation;
};

std::vector<broker_setting> broker_settings(const broker_config& c, int64_t max_message_bytes,
                                            int64_t segment_bytes, int64_t retention_ms,
                                            int64_t retention_bytes, int64_t flush_ms);

}  // namespace trib::kafka
