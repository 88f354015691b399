// One Raft group driven on a node: its state machine, its store, and the ready loop that
// gives the state machine I/O. Writes go to the partition log at once and become durable
// through the shared flusher (group commit: everything written while a sync runs shares the
// next one); messages that promise durability leave only after that sync. One ready is in
// flight at a time, so the next one gathers everything that arrived meanwhile. Lives on one
// event loop; every call comes from that loop's thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <asio/io_context.hpp>

#include "raft/core/raft_node.h"
#include "raft/log_store.h"
#include "raft/message_codec.h"
#include "storage/flusher.h"

namespace trib::raft {

class group {
  public:
    using send_fn = std::function<void(group_id, const message&)>;
    // Entries through this offset are committed and durable here (a partition's high
    // watermark; the controller applies them).
    using commit_fn = std::function<void(offset_t)>;
    // What the application of a data partition follows, each on the group's loop:
    struct observer {
        commit_fn committed;
        // A ready's snapshot and entries were written to the log (not yet durable): the
        // entries replace the log from their first offset on (a truncation when it is below
        // the old end). Called before the group's messages promising them go out.
        std::function<void(const ready&)> written;
        // The role, term or known leader changed (checked after every pump).
        std::function<void()> state_changed;
        std::function<void()> ticked;  // after each tick of the group's timers
        // The commit offset moved while this node's own sync still runs: committed (durable on
        // a majority) but not yet durable here, so not yet `committed` above. What waits
        // only for the commit (acks=all) may be answered now.
        std::function<void()> commit_learned;
    };

    group(group_id id, const raft_options& options, std::unique_ptr<log_store> store,
          storage::flusher& flusher, asio::io_context& loop, send_fn send, commit_fn on_commit);
    group(group_id id, const raft_options& options, std::unique_ptr<log_store> store,
          storage::flusher& flusher, asio::io_context& loop, send_fn send, observer events);
    ~group();
    group(const group&) = delete;
    group& operator=(const group&) = delete;

    group_id id() const { return _id; }
    raft_node& node() { return _node; }
    const raft_node& node() const { return _node; }
    log_store& store() { return *_store; }
    const log_store& store() const { return *_store; }
    // A storage write or sync failed: the group stopped (fail-stop; restart to recover).
    bool failed() const { return _failed; }

    void tick();
    void step(const message& m);
    result<offset_t> propose(std::vector<uint8_t> batch);
    // Snapshots the applied state through `through` with `data` and drops that log prefix;
    // followers behind it get the snapshot.
    status compact(offset_t through, batch_bytes data);
    // The log starts at `new_start` (within what is applied) from now on: retention moved
    // it there, or DeleteRecords does now (log_store::move_start).
    status move_log_start(offset_t new_start, batch_bytes data);
    // Hands the state machine's pending work to the disk and the network, if none is in
    // flight; call after ticks, steps and proposals.
    void pump();
    // A metadata group (the controller) gives up the disk's space reserve when the disk is
    // full, so deleting topics can still be written.
    void use_space_reserve() { _uses_space_reserve = true; }

  private:
    void on_flushed();
    void finish();
    void fail(const std::string& what, std::error_code ec);
    void notice_state();
    void count_state_change();  // into the metrics, before the seen state is updated

    group_id _id;
    std::unique_ptr<log_store> _store;
    raft_node _node;
    storage::flusher& _flusher;
    send_fn _send;
    observer _events;
    raft::role _seen_role = raft::role::follower;
    term_t _seen_term = -1;
    offset_t _seen_commit = -1;  // the highest commit reported, by either event
    node_id _seen_leader = no_node;
    uint64_t _seen_lost_logs = 0;
    bool _seen_rejoining = false;  // raft_node::rejoining, as last seen
    std::optional<ready> _in_flight;
    offset_t _durable_needed = -1;  // the in-flight ready's last entry
    bool _failed = false;
    bool _uses_space_reserve = false;
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);  // for late flush callbacks
};

}  // namespace trib::raft
