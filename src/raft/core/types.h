// The values the Raft state machine takes in and gives out: entries, configurations,
// snapshots, messages, the durable hard state and the `ready` batch of work for the driver.
// Positions are Kafka offsets: an entry is one v2 record batch covering
// [base_offset, last_offset], its term is the batch's partitionLeaderEpoch, and the entry
// before offset b is the batch ending at b - 1. A partition's data log is its Raft log.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/result.h"

namespace trib::raft {

using node_id = int32_t;
using term_t = int64_t;
using offset_t = int64_t;

constexpr node_id no_node = -1;

// Why the state machine refused a request from its application.
enum class errc {
    not_leader = 1,           // only the leader takes proposals
    leadership_transferring,  // the leader is handing over and takes no proposals meanwhile
    too_much_uncommitted,     // flow control: the leader holds too many uncommitted bytes
    config_change_pending,    // one membership change at a time
    no_commit_in_term,        // a new leader must commit in its term before changing members
    invalid_config_change,    // adding a voter already present, removing one that is absent
    invalid_batch,            // a proposal that is not a well-formed v2 batch
    unknown_node,             // transfer target not a voter
    offset_out_of_range,      // a log read outside what the log holds
};
const std::error_category& raft_category();
inline std::error_code make_error_code(errc e) {
    return {static_cast<int>(e), raft_category()};
}

enum class entry_kind : uint8_t {
    data,          // the application's records
    leader_start,  // the empty control batch a new leader appends to commit in its term
    config,        // a control batch carrying the voter set
};

struct configuration {
    std::vector<node_id> voters;  // sorted, unique
    bool contains(node_id id) const;
    size_t quorum() const { return voters.size() / 2 + 1; }
    friend bool operator==(const configuration&, const configuration&) = default;
};

using batch_bytes = std::shared_ptr<const std::vector<uint8_t>>;

// One log entry: the batch bytes and the header fields the state machine uses.
struct entry {
    batch_bytes batch;
    term_t term = 0;
    offset_t base_offset = 0;
    offset_t last_offset = 0;
    entry_kind kind = entry_kind::data;
    std::span<const uint8_t> bytes() const { return {batch->data(), batch->size()}; }
    size_t size() const { return batch->size(); }
};

// Reads an entry's fields from a batch, checking its CRC (the term from partitionLeaderEpoch).
result<entry> entry_from_batch(batch_bytes batch);
// The same for a batch the caller has verified already (a leader's proposal): header only.
result<entry> entry_from_verified_batch(batch_bytes batch);
// The voter set a config entry carries.
result<configuration> config_of(const entry& e);
// Control batches (Kafka clients skip control batches; the types are outside Kafka's own).
std::vector<uint8_t> make_leader_start_batch(node_id leader, int64_t now_ms);
std::vector<uint8_t> make_config_batch(const configuration& config, int64_t now_ms);

// The state up to and including `last_offset`, which replaces that log prefix. For a data
// partition `data` is what the application needs to resume there (empty today); for the
// controller it is the metadata image.
struct snapshot {
    offset_t last_offset = -1;
    term_t last_term = 0;
    configuration config;
    batch_bytes data;  // may be null: nothing beyond the position
};

// What a node must remember across crashes. `lost_through` >= 0: this node dropped part of
// its log that it may have acknowledged (damage found at open, repaired from the leader), so
// a commit may have counted it for entries it no longer holds; until it is safe again (see
// raft_node::rejoining) it neither votes nor campaigns. `lost_in_term` is its term then.
struct hard_state {
    term_t term = 0;
    node_id voted_for = no_node;
    offset_t lost_through = -1;
    term_t lost_in_term = 0;
    friend bool operator==(const hard_state&, const hard_state&) = default;
};

enum class msg_type : uint8_t {
    pre_vote,
    pre_vote_response,
    vote,
    vote_response,
    append,
    append_response,  // also answers a snapshot
    heartbeat,        // leadership and the commit offset, no log matching
    heartbeat_response,
    snapshot,
    timeout_now,  // leadership transfer: campaign now, without pre-vote
};
std::string_view to_string(msg_type t);

// One node-to-node message. A flat struct: each type uses the fields its comment names.
struct message {
    msg_type type = msg_type::append;
    node_id from = no_node;
    node_id to = no_node;
    term_t term = 0;
    // (pre_)vote: the candidate's last log position; `transfer` lets it past leader leases.
    offset_t last_offset = -1;
    term_t last_term = 0;
    bool transfer = false;
    // responses: granted (votes) or success (appends).
    bool granted = false;
    // append: entries follow the entry ending at prev_offset, whose term is prev_term.
    offset_t prev_offset = -1;
    term_t prev_term = 0;
    std::vector<entry> entries;
    offset_t commit_offset = -1;
    // append_response: success → the follower's log matches the leader's up to match_offset;
    // failure → its log cannot match past match_offset (a hint where to resume), and
    // prev_offset repeats the rejected append's. heartbeat: prev_offset is the last offset sent
    // to the follower so far; heartbeat_response: echoes it, match_offset = its last offset.
    offset_t match_offset = -1;
    // snapshot
    std::optional<snapshot> snap;
};

// Work for the driver, taken with raft_node::take_ready and confirmed with advance:
// 1. persist `hard_state`, install `snapshot` (it replaces the log), drop the log from
//    `entries.front().base_offset` on and append `entries`, then make all of it durable;
// 2. send `messages_after_persist` only after step 1 is durable (votes and acknowledgements
//    promise durability); `messages` may go at once (a leader's appends and heartbeats);
// 3. entries up to `commit_offset` are committed and durable here: apply them.
struct ready {
    std::optional<raft::hard_state> hard_state;
    std::optional<raft::snapshot> snapshot;
    std::vector<entry> entries;
    std::vector<message> messages;
    std::vector<message> messages_after_persist;
    std::optional<offset_t> commit_offset;
};

}  // namespace trib::raft

template <>
struct std::is_error_code_enum<trib::raft::errc> : std::true_type {};
