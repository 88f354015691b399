// The simulated machines: each is a raft_node, its disk (a memory_log, which loses unsynced
// writes in a crash) and the driver loop between them, in the shape a real broker runs it:
// take a ready, send its messages, write it, fsync (which takes simulated ticks), send the
// after-persist messages, apply what is committed, advance. One ready in flight per node.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "cluster/core/metadata.h"
#include "raft/core/memory_log.h"
#include "raft/core/raft_node.h"
#include "sim/checker.h"
#include "sim/options.h"
#include "sim/rng.h"
#include "sim/sim_network.h"
#include "sim/trace.h"

namespace trib::sim {

struct sim_node {
    enum class health : uint8_t { up, crashed, paused };
    struct in_flight {
        raft::ready rd;
        int64_t durable_at = 0;  // the tick its fsync completes
    };
    // A data entry this node accepted as leader, waiting to be reported committed.
    struct proposal {
        raft::term_t term = 0;
        uint32_t crc = 0;
    };

    raft::node_id id = raft::no_node;
    raft::raft_options options;
    std::unique_ptr<raft::memory_log> disk;  // survives crashes
    std::unique_ptr<raft::raft_node> raft;   // null while crashed
    health state = health::up;
    int64_t wake_at = 0;  // crashed: restart tick; paused: resume tick
    int incarnation = 0;
    std::optional<in_flight> writing;

    // The application: what it applied, and the term and configuration at that point (what a
    // snapshot taken there records).
    raft::offset_t applied = -1;
    raft::term_t applied_term = 0;
    raft::configuration applied_config;
    // The controller's state machine over the same entries (each proposal is a command).
    cluster::core::image image;

    // What this incarnation showed so far (commit and term never go back within one).
    raft::role seen_role = raft::role::follower;
    raft::term_t seen_term = 0;
    raft::offset_t seen_commit = -1;
    raft::hard_state synced;  // the hard state as of the last fsync
    std::map<raft::offset_t, proposal> proposals;

    bool is_up() const { return state == health::up; }
};

// A proposal a leader accepted: where it went and how to recognise it.
struct proposed {
    raft::node_id node = raft::no_node;
    raft::offset_t base_offset = -1;
    raft::term_t term = 0;
    uint32_t crc = 0;
};

class sim_cluster {
  public:
    sim_cluster(const sim_options& options, trace& tr, checker& check, sim_stats& stats);

    // One tick of simulated time: brings back nodes whose down time is over, ticks every
    // running node, then delivers messages and drives readies until the tick is quiet.
    void run_tick(int64_t now);

    // Faults.
    void crash(raft::node_id id, int64_t restart_at);
    void restart(raft::node_id id);
    void pause(raft::node_id id, int64_t resume_at);
    void resume(raft::node_id id);

    // The application. propose() builds a data batch with a value unique in the run.
    result<proposed> propose(raft::node_id id, int64_t now);
    result<raft::offset_t> change_members(raft::node_id leader, raft::node_id target, bool add,
                                          int64_t now);
    status transfer(raft::node_id leader, raft::node_id to);
    // Compacts the node's log through what it applied (when it has no write in flight).
    void compact(raft::node_id id);

    // The running leader of the highest term, or no_node.
    raft::node_id leader() const;
    std::vector<raft::node_id> leaders() const;
    sim_node& node(raft::node_id id) { return _nodes[static_cast<size_t>(id - 1)]; }
    const sim_node& node(raft::node_id id) const { return _nodes[static_cast<size_t>(id - 1)]; }
    std::vector<sim_node>& nodes() { return _nodes; }
    sim_network& network() { return _network; }

    // Whether the configuration of the most up-to-date node that lost nothing has no quorum
    // of voters that lost nothing (a node rejoining after a repair does not vote).
    bool quorum_needs_a_rejoining_voter() const;
    // Pairwise log matching over every disk.
    void check_logs();
    // Acknowledged entries are in the durable state (what a crash now leaves) of `ids`.
    void check_acked_durable(const std::vector<raft::node_id>& ids);
    // One line per node, for failure reports.
    std::string describe_nodes() const;

  private:
    void start(sim_node& n);
    // Whether a crash may also find `n`'s synced entries damaged (and repair them).
    bool may_lose_entries(const sim_node& n) const;
    // Drives one node's ready loop as far as it goes this tick; true when it did anything.
    bool pump(sim_node& n, int64_t now);
    void begin_write(sim_node& n, int64_t now);
    void finish_write(sim_node& n, int64_t now);
    void apply(sim_node& n, raft::offset_t commit);
    void apply_commands(sim_node& n, const raft::entry& e);
    void restore_image(sim_node& n, const raft::snapshot& snap);
    std::vector<uint8_t> next_command_batch(int64_t now, std::string& described);
    void deliver(const raft::message& m);
    // Checks and records what a call into the node changed (role, term, commit).
    void observe(sim_node& n);
    int64_t now_ms(int64_t tick) const { return tick * _opt.ms_per_tick; }

    const sim_options& _opt;
    trace& _trace;
    checker& _check;
    sim_stats& _stats;
    sim_network _network;
    rng _rng;  // disk latencies and crash outcomes
    std::vector<sim_node> _nodes;
    uint64_t _next_value = 0;
    raft::node_id _transfer_to = raft::no_node;  // the pending transfer, to count completions
    raft::term_t _transfer_term = 0;
};

}  // namespace trib::sim
