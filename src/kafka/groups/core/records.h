// The group log's record format (`__consumer_offsets`, compacted). Keys and values start with
// a 16-bit version, laid out like Kafka's own: key v1 = committed offset (group, topic,
// partition), key v2 = group metadata (group); offset value v3; group value v3 with every
// member's subscription and assignment. docs/formats/group-log.md describes it.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kafka/groups/core/types.h"

namespace trib::kafka::groups {

struct offset_key {
    std::string group_id;
    topic_partition partition;
};
struct group_key {
    std::string group_id;
};

struct stored_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    int32_t session_timeout_ms = 0;
    bytes subscription;
    bytes assignment;
};

struct stored_group {
    std::string protocol_type;
    int32_t generation = 0;
    std::optional<std::string> protocol;
    std::optional<std::string> leader;
    int64_t state_timestamp_ms = 0;
    std::vector<stored_member> members;
};

bytes encode_key(const offset_key& k);
bytes encode_key(const group_key& k);
bytes encode_value(const committed_offset& v);
bytes encode_value(const stored_group& v);

// nullopt: not a record this version understands (the caller logs and skips it).
std::optional<std::variant<offset_key, group_key>> decode_key(const bytes& data);
std::optional<committed_offset> decode_offset_value(const bytes& data);
std::optional<stored_group> decode_group_value(const bytes& data);

}  // namespace trib::kafka::groups
