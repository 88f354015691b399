// The values the group coordinator takes and gives: plain structs, independent of the wire
// versions the requests came in (the handlers translate).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/protocol/wire.h"

namespace trib::kafka::groups {

using protocol::bytes;

enum class group_state { empty, preparing_rebalance, completing_rebalance, stable, dead };

// The names DescribeGroups and ListGroups use.
std::string_view state_name(group_state s);

struct join_request {
    std::string group_id;
    std::string member_id;  // empty: a new member
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    std::vector<std::pair<std::string, bytes>> protocols;  // in the member's preference order
    bool require_known_member_id = false;                  // JoinGroup v4+ (KIP-394)
    bool supports_skip_assignment = false;                 // JoinGroup v9+ (KIP-814)
};

struct join_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    bytes metadata;
};

struct join_response {
    int16_t error_code = 0;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader;
    std::string member_id;
    std::vector<join_member> members;  // the leader's copy only
    bool skip_assignment = false;      // the leader must not assign: the group is stable
};

struct sync_request {
    std::string group_id;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<std::pair<std::string, bytes>> assignments;  // from the leader
};

struct sync_response {
    int16_t error_code = 0;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    bytes assignment;
};

// Answers to JoinGroup and SyncGroup can come later, from another member's request or a
// timeout; the coordinator calls these exactly once per request.
using join_callback = std::function<void(join_response)>;
using sync_callback = std::function<void(sync_response)>;

struct member_identity {
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

struct topic_partition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const topic_partition&) const = default;  // NOLINT(modernize-use-nullptr)
};

struct committed_offset {
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::string metadata;
    int64_t commit_timestamp_ms = 0;
};

struct offset_commit_request {
    std::string group_id;
    int32_t generation = -1;  // -1 with no member: a commit outside group management
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<std::pair<topic_partition, committed_offset>> offsets;
};

struct member_description {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    bytes metadata;  // for the chosen protocol
    bytes assignment;
};

struct group_description {
    int16_t error_code = 0;
    group_state state = group_state::dead;
    std::string protocol_type;
    std::string protocol;
    std::vector<member_description> members;
};

struct group_listing {
    std::string group_id;
    std::string protocol_type;
    group_state state = group_state::empty;
};

// A record for the group log (`__consumer_offsets`): a key and a value, or no value to
// delete the key (compaction keeps the newest per key).
struct log_record {
    std::string group_id;  // decides the partition
    bytes key;
    std::optional<bytes> value;
};

}  // namespace trib::kafka::groups
