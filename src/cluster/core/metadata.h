// The cluster's metadata as a pure state machine: the image every node holds (cluster id,
// brokers and their liveness, topics with their partitions' replica lists, the next free
// producer id) and the commands the controller's Raft log carries. Every node applies the
// committed commands in log order to its own image; `apply` is deterministic (no clock,
// randomness or I/O: whatever depends on them — placement, ids, times — is decided by the
// controller leader before it proposes), so equal logs give equal images. Formats:
// docs/formats/controller.md.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace trib::cluster::core {

using node_id = int32_t;
using topic_id = std::array<uint8_t, 16>;

struct host_port {
    std::string host;
    uint16_t port = 0;
    friend bool operator==(const host_port&, const host_port&) = default;
};

struct broker {
    node_id id = -1;
    host_port kafka;  // advertised to clients
    host_port rpc;    // node to node
    std::optional<std::string> rack;
    uint64_t incarnation = 0;  // random per process start
    uint64_t dir_id = 0;       // random per data directory: a restart keeps it, a duplicate not
    bool fenced = false;       // missed its session: not in Metadata, its replicas offline
    friend bool operator==(const broker&, const broker&) = default;
};

// A partition's replicas, the preferred leader first.
using replica_list = std::vector<node_id>;

struct topic {
    topic_id id{};
    std::string name;
    std::map<std::string, std::string> configs;  // overrides, validated and normalised
    std::vector<replica_list> partitions;
    // Each partition's Raft group, numbered by `apply` (commands leave this empty).
    std::vector<uint64_t> groups;
    // Partitions being reassigned: the replicas each is moving to. Until the move finishes,
    // `partitions` keeps the replicas it had; a cancelled move targets those again.
    std::map<int32_t, replica_list> moving;
    friend bool operator==(const topic&, const topic&) = default;
};

struct image {
    std::string cluster_id;  // empty until the first leader sets it
    std::map<node_id, broker> brokers;
    std::map<std::string, topic> topics;
    int64_t next_producer_id = 0;
    uint64_t next_group_id = 1;  // Raft group 0 is the controller's own
    // Brokers being decommissioned: new partitions avoid them and the controller leader moves
    // their replicas elsewhere.
    std::set<node_id> draining;
    int64_t applied_offset = -1;  // the last log entry applied to this image
    friend bool operator==(const image&, const image&) = default;

    const topic* find_topic(std::string_view name) const;
    const topic* find_topic(const topic_id& id) const;
    bool live(node_id id) const;  // registered and not fenced
};

// ---- commands ----

struct init_cluster {
    std::string cluster_id;
};
// A broker (re)registers at start; a new incarnation replaces the old registration.
struct register_broker {
    broker info;  // fenced is ignored: a registering broker is live
};
// The leader saw no heartbeat within the session timeout / saw one again.
struct fence_broker {
    node_id id = -1;
    uint64_t incarnation = 0;
};
struct unfence_broker {
    node_id id = -1;
    uint64_t incarnation = 0;
};
struct create_topic {
    topic t;
};
struct delete_topic {
    topic_id id{};
};
struct create_partitions {
    topic_id id{};
    std::vector<replica_list> added;
};
struct set_topic_configs {
    topic_id id{};
    std::map<std::string, std::string> configs;  // the whole new set of overrides
};
// A partition's replicas are to become `target` (the partition's Raft group changes its
// voters one at a time, driven by its leader); an empty target cancels a move under way
// (it then goes back to the replicas it had). A new target replaces the one under way.
struct reassign_partition {
    topic_id id{};
    int32_t partition = -1;
    replica_list target;
};
// The partition's Raft group has the target's voters: the move is over (ignored unless
// `target` is still the partition's target).
struct finish_reassignment {
    topic_id id{};
    int32_t partition = -1;
    replica_list target;
};
// A broker starts (on) or stops (off) being decommissioned.
struct drain_broker {
    node_id id = -1;
    bool on = true;
};
// Hands out [next_producer_id, next_producer_id + count) to `broker`.
struct allocate_producer_ids {
    node_id broker = -1;
    int32_t count = 0;
};

using command =
    std::variant<init_cluster, register_broker, fence_broker, unfence_broker, create_topic,
                 delete_topic, create_partitions, set_topic_configs, allocate_producer_ids,
                 reassign_partition, finish_reassignment, drain_broker>;

// What applying a command did. A refused command changes nothing: two nodes may race to
// create one topic, and the log decides which wins.
enum class outcome : uint8_t {
    applied,
    ignored,  // nothing to do (the cluster id is set, a stale incarnation, already fenced)
    topic_exists,
    unknown_topic,
    unknown_broker,
    invalid_assignment,  // a replica list naming an unknown broker, a repeat, or empty
    unknown_partition,
    no_reassignment,  // a cancel for a partition that is not moving
};
std::string_view to_string(outcome o);

struct apply_result {
    outcome result = outcome::applied;
    int64_t first_producer_id = -1;  // allocate_producer_ids
};

// The replicas a partition has while it moves: the target's, then those it is leaving (Kafka's
// Metadata names both); the plain replica list when it is not moving.
replica_list all_replicas(const topic& t, int32_t partition);

// Applies the command of the log entry at `offset` (which must follow the image's).
apply_result apply(image& img, const command& cmd, int64_t offset);

// Checks replica lists against the registered brokers: each non-empty, no broker twice, every
// broker known, all of one length.
outcome check_assignment(const image& img, const std::vector<replica_list>& partitions);

}  // namespace trib::cluster::core
