// What nodes ask the controller leader, and its answers, on the rpc channel of the node-to-node
// connections (docs/formats/controller.md). Any node takes a request from its Kafka clients
// or its own startup and forwards it to the leader; the leader decides (placement, ids,
// validation against the image), proposes, and answers once the entry is applied, naming the
// entry's offset so the asking node can wait until it has applied it too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "cluster/core/metadata.h"
#include "cluster/errc.h"

namespace trib::cluster {

enum class request_kind : uint8_t {
    register_broker = 1,
    broker_heartbeat = 2,
    create_topic = 3,
    delete_topic = 4,
    create_partitions = 5,
    set_topic_configs = 6,
    allocate_producer_ids = 7,
    // `topic`'s partition `partitions` moves to the replicas `assignment[0]`; no assignment
    // cancels the move under way.
    reassign_partition = 8,
    // From the partition's leader: its Raft group has the voters `assignment[0]`.
    finish_reassignment = 9,
    // `broker.id` is decommissioned: its replicas move elsewhere and new partitions avoid it
    // (recommission: no longer).
    decommission_broker = 10,
    recommission_broker = 11,
};

struct controller_request {
    request_kind kind = request_kind::broker_heartbeat;
    core::broker broker;         // register_broker, broker_heartbeat (id and incarnation)
    bool shutting_down = false;  // broker_heartbeat: fence me now, I am stopping
    std::string topic;
    int32_t partitions = -1;          // create_topic: count (-1 default); create_partitions: total
    int16_t replication_factor = -1;  // create_topic (-1 default)
    std::vector<core::replica_list> assignment;  // explicit, or empty to place
    std::map<std::string, std::string> configs;  // validated by the asking node
    bool validate_only = false;
    int32_t count = 0;  // allocate_producer_ids
    // create_topic: keep this id (a topic moved from the single-node metadata.json)
    std::optional<core::topic_id> keep_topic_id;
    // What the asking node had applied: the leader decides only once it has applied as much,
    // so a change is never judged on an older view than the one its asker acted on.
    int64_t seen_offset = -1;
};

struct controller_response {
    errc code = errc::none;
    std::string message;
    int64_t offset = -1;  // the entry that carried the change (-1: nothing was proposed)
    int64_t first_producer_id = -1;
    core::node_id leader = -1;  // not_controller: who leads, if known
};

// A fresh topic id (a random version-4 UUID, as Kafka's). A node asking for a topic names
// its id up front, so the leader recognises a retry of a create it already carried out.
core::topic_id random_topic_id();

// An rpc payload: u8 1 (request) or 2 (response), u64 id, the message.
std::vector<uint8_t> encode_rpc(uint64_t id, const controller_request& m);
std::vector<uint8_t> encode_rpc(uint64_t id, const controller_response& m);
struct decoded_rpc {
    uint64_t id = 0;
    std::optional<controller_request> request;  // one of the two
    std::optional<controller_response> response;
};
result<decoded_rpc, std::string> decode_rpc(std::span<const uint8_t> payload);

}  // namespace trib::cluster
