// One member of one Raft group as a pure state machine (in the manner of etcd's raft): it
// takes ticks, messages and proposals, and hands back `ready` work — what to persist, what to
// send, what became committed. No threads, sockets or clock reads; its only randomness
// (election timeouts) comes from a seeded generator, so a simulation replays it exactly.
//
// Implemented: pre-vote and check-quorum (a node that hears from a leader refuses to help
// depose it), randomized election timeouts, pipelined replication with per-follower flow
// control, commit by majority of durable copies in the current term, truncation of
// divergent suffixes, leadership transfer, one-server-at-a-time membership changes, and
// snapshots for followers behind the log start.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "raft/core/log_view.h"

namespace trib::raft {

struct raft_options {
    node_id id = no_node;
    int election_ticks = 10;  // a follower campaigns after [election, 2 * election) quiet ticks
    int heartbeat_ticks = 1;
    bool pre_vote = true;
    bool check_quorum = true;
    size_t max_append_bytes = 1 << 20;        // entries per append message
    size_t max_inflight_appends = 64;         // pipelined appends per follower
    size_t max_uncommitted_bytes = 64 << 20;  // proposals refused past this
    uint64_t seed = 1;                        // election timeout randomization
};

enum class role : uint8_t { follower, pre_candidate, candidate, leader };
std::string_view to_string(role r);

class raft_node {
  public:
    // `stable` must outlive the node; the hard state is what the driver last persisted.
    raft_node(const raft_options& options, stable_log& stable, hard_state state);

    void tick();
    void step(const message& m);
    // A data batch (v2); the leader stamps its offsets and term. Returns its base offset.
    result<offset_t> propose(std::vector<uint8_t> batch, int64_t now_ms);
    result<offset_t> add_voter(node_id id, int64_t now_ms);
    result<offset_t> remove_voter(node_id id, int64_t now_ms);
    status transfer_leadership(node_id to);
    // Nodes that receive the log without voting (the controller's brokers): a leader
    // replicates to them like to any follower, but they count for neither commit nor quorum,
    // and a learner never campaigns (it is not in the configuration). Not durable: the
    // application sets them on every node, and a new leader uses what it was given. Voters
    // named here stay voters.
    void set_learners(std::set<node_id> learners);
    const std::set<node_id>& learners() const { return _learners; }
    // Starts an election now (tests; a node's first election in a fresh group).
    void campaign();
    // The application made a snapshot durable through `snap.last_offset` (<= applied) and
    // dropped that log prefix; followers behind it will be sent the snapshot.
    void compacted(const raft::snapshot& snap);

    bool has_ready() const;
    ready take_ready();
    // Everything in `rd` is durable and its after-persist messages have been sent.
    void advance(const ready& rd);
    // While a ready is being persisted: the messages that may go at once (a leader's appends
    // and heartbeats, answers that promise nothing), so they need not wait for that sync.
    std::vector<message> take_messages();

    node_id id() const { return _opt.id; }
    raft::role role() const { return _role; }
    term_t term() const { return _term; }
    node_id voted_for() const { return _voted_for; }
    node_id leader() const { return _leader; }
    offset_t commit_offset() const { return _commit; }
    offset_t applied_offset() const { return _applied; }
    const configuration& config() const { return _config; }
    // The newest configuration entry is not known committed yet (no other change may start).
    bool config_change_pending() const {
        return !_configs.empty() && _configs.back().first > _commit;
    }
    const log_view& log() const { return _log; }
    node_id transfer_target() const { return _transfer_to; }
    // The node lost entries it may have acknowledged (hard_state::lost_through) and has not
    // got them back yet: it grants no votes and does not campaign, so it cannot help elect a
    // leader that lacks a committed entry. Where no quorum can form without it, no leader is
    // elected until an operator steps in: safety over liveness, as when a majority of disks
    // is lost.
    bool rejoining() const { return _lost_through >= 0; }
    // The leader's entry that opened its term: once it is committed, everything before it
    // is too, and the leader knows the whole committed log (-1 unless leader).
    offset_t term_start_offset() const {
        return _role == raft::role::leader ? _term_start_offset : -1;
    }
    bool leader_ready() const {
        return _role == raft::role::leader && _commit >= _term_start_offset;
    }
    // A leader's view of its followers (voters and learners): how far each matches, and how
    // many ticks ago it last answered and was last caught up with the whole log. Empty
    // unless leader.
    struct peer_status {
        node_id id = no_node;
        offset_t match = -1;
        uint64_t ticks_since_heard = 0;
        uint64_t ticks_since_caught_up = 0;
        bool voter = false;
    };
    std::vector<peer_status> peers() const;
    // How often, as leader, a follower was found to have lost entries it had acknowledged
    // (its disk wiped or replaced): the driver says so in its log.
    uint64_t followers_lost_log() const { return _followers_lost_log; }
    node_id last_follower_lost_log() const { return _last_follower_lost_log; }

  private:
    struct progress {
        enum class mode : uint8_t { probe, replicate, snapshot } state = mode::probe;
        offset_t match = -1;
        offset_t next = 0;
        bool probe_sent = false;         // probe: one append at a time
        std::vector<offset_t> inflight;  // replicate: last offsets of appends in flight
        offset_t snapshot_offset = -1;   // snapshot: the one being sent
        int snapshot_elapsed = 0;        // ticks without an answer to it
        bool recent_active = false;
        uint64_t heard_tick = 0;      // _ticks at its last answer
        uint64_t caught_up_tick = 0;  // _ticks when it last matched our whole log
    };

    // roles
    void become_follower(term_t term, node_id leader);
    void become_pre_candidate();
    void become_candidate(bool transfer);
    void become_leader();
    void reset(term_t term);
    void start_election(bool pre, bool transfer);
    void reset_election_timeout();
    bool promotable() const;
    hard_state current_state() const {
        return {.term = _term,
                .voted_for = _voted_for,
                .lost_through = _lost_through,
                .lost_in_term = _lost_in_term};
    }

    // messages
    void send(message m, bool after_persist);
    void handle_vote_request(const message& m);
    void handle_vote_response(const message& m);
    void handle_append(const message& m);
    void handle_snapshot(const message& m);
    void handle_append_response(const message& m);
    void handle_heartbeat(const message& m);
    void handle_heartbeat_response(const message& m);
    void reply(const message& to, msg_type type, bool granted, offset_t match, bool after_persist);
    bool lease_holds() const;

    // replication (replication.cc)
    void broadcast_append(bool allow_empty);
    void broadcast_heartbeat();
    bool send_append(node_id to, bool allow_empty);
    void send_snapshot(node_id to, progress& p);
    void send_heartbeat(node_id to);
    bool maybe_commit();
    void set_commit(offset_t commit);
    result<offset_t> append_as_leader(std::vector<uint8_t> batch, entry_kind kind);
    void become_probe(progress& p, offset_t next);
    void tally_votes(bool pre);
    result<offset_t> change_config(const configuration& next, int64_t now_ms);
    void apply_config_from_log();
    void forget_configs_from(offset_t offset);
    void learn_configs(const std::vector<entry>& entries);
    void on_config_changed();
    void check_quorum_active();
    void track_learners();
    void heard_from(progress& p);
    offset_t boundary_before(offset_t offset) const;

    raft_options _opt;
    log_view _log;
    raft::role _role = raft::role::follower;
    term_t _term = 0;
    node_id _voted_for = no_node;
    offset_t _lost_through = -1;  // hard_state::lost_through
    term_t _lost_in_term = 0;
    node_id _leader = no_node;
    offset_t _commit = -1;
    offset_t _applied = -1;
    offset_t _reported_commit = -1;
    hard_state _persisted_state;

    configuration _config;
    std::vector<std::pair<offset_t, configuration>> _configs;  // config entries after snapshot

    uint64_t _ticks = 0;  // ticks since the node started
    uint64_t _followers_lost_log = 0;
    node_id _last_follower_lost_log = no_node;
    int _election_elapsed = 0;
    int _heartbeat_elapsed = 0;
    int _randomized_timeout = 0;
    uint64_t _rng;

    std::set<node_id> _votes_for;
    std::set<node_id> _votes_against;

    std::map<node_id, progress> _progress;
    std::set<node_id> _learners;
    offset_t _term_start_offset = -1;  // the leader_start entry of this leader's term
    std::vector<std::pair<offset_t, size_t>> _uncommitted;  // leader: (last offset, bytes)
    size_t _uncommitted_bytes = 0;
    bool _pending_broadcast = false;  // proposals wait for take_ready, to batch them
    node_id _transfer_to = no_node;

    std::vector<message> _msgs;
    std::vector<message> _msgs_after_persist;
};

}  // namespace trib::raft
