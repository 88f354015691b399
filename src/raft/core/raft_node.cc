// Roles, elections (pre-vote, check-quorum, leases) and message dispatch. Replication,
// commit, membership and the ready/advance handshake are in replication.cc.
#include "raft/core/raft_node.h"

#include <algorithm>

#include "base/assert.h"

namespace trib::raft {
namespace {

// splitmix64: small, seedable, and the same on every platform.
uint64_t next_random(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

bool is_vote_request(msg_type t) {
    return t == msg_type::pre_vote || t == msg_type::vote;
}

}  // namespace

std::string_view to_string(role r) {
    switch (r) {
        case role::follower:
            return "follower";
        case role::pre_candidate:
            return "pre_candidate";
        case role::candidate:
            return "candidate";
        case role::leader:
            return "leader";
    }
    return "?";
}

raft_node::raft_node(const raft_options& options, stable_log& stable, hard_state state)
    : _opt(options),
      _log(stable),
      _term(state.term),
      _voted_for(state.voted_for),
      _lost_through(state.lost_through),
      _lost_in_term(state.lost_in_term),
      _persisted_state(state),
      _rng(options.seed ^ (static_cast<uint64_t>(options.id) << 32)) {
    TRIB_ASSERT_MSG(_opt.id != no_node, "a raft node needs an id");
    TRIB_ASSERT_MSG(_opt.heartbeat_ticks > 0 && _opt.election_ticks > _opt.heartbeat_ticks,
                    "election ticks {} must exceed heartbeat ticks {}", _opt.election_ticks,
                    _opt.heartbeat_ticks);
    _commit = _applied = _reported_commit = _log.snapshot().last_offset;
    for (auto& [offset, config] : stable.configs()) {
        if (offset > _log.snapshot().last_offset) {
            _configs.emplace_back(offset, std::move(config));
        }
    }
    apply_config_from_log();
    reset_election_timeout();
    if (_configs.empty() && _config.voters.size() == 1 && _config.voters.front() == _opt.id) {
        // Alone in a committed configuration (a replication factor of 1), this node committed
        // every entry it holds when it wrote it: it says so at once, so a log that can take
        // no appends (damage found at open) still serves what it has.
        _commit = _log.last_offset();
    }
}

void raft_node::reset_election_timeout() {
    _randomized_timeout =
        _opt.election_ticks +
        static_cast<int>(next_random(_rng) % static_cast<uint64_t>(_opt.election_ticks));
}

bool raft_node::promotable() const {
    if (_log.has_pending_snapshot() || rejoining()) {
        return false;
    }
    if (_config.contains(_opt.id)) {
        return true;
    }
    // A change that removes us and is not known committed may still need us: the voters of
    // the previous configuration cannot elect anyone without our vote, and we may hold the
    // change's only copy (a leader that removed itself and lost touch before it committed).
    if (_configs.empty() || _configs.back().first <= _commit) {
        return false;
    }
    const configuration& previous =
        _configs.size() >= 2 ? _configs[_configs.size() - 2].second : _log.snapshot().config;
    return previous.contains(_opt.id);
}

void raft_node::reset(term_t term) {
    if (term != _term) {
        TRIB_ASSERT_MSG(term > _term, "term going back from {} to {}", _term, term);
        _term = term;
        _voted_for = no_node;
    }
    _leader = no_node;
    _election_elapsed = 0;
    _heartbeat_elapsed = 0;
    reset_election_timeout();
    _votes_for.clear();
    _votes_against.clear();
    _progress.clear();
    _uncommitted.clear();
    _uncommitted_bytes = 0;
    _transfer_to = no_node;
    _pending_broadcast = false;
}

void raft_node::become_follower(term_t term, node_id leader) {
    reset(term);
    _role = raft::role::follower;
    _leader = leader;
}

void raft_node::become_pre_candidate() {
    TRIB_ASSERT(_role != raft::role::leader);
    // The term stays: a pre-vote asks "would you vote for me?" without disturbing anyone.
    _votes_for.clear();
    _votes_against.clear();
    _role = raft::role::pre_candidate;
    _leader = no_node;
    _votes_for.insert(_opt.id);
    for (node_id peer : _config.voters) {
        if (peer != _opt.id) {
            send({.type = msg_type::pre_vote,
                  .to = peer,
                  .term = _term + 1,
                  .last_offset = _log.last_offset(),
                  .last_term = _log.last_term()},
                 false);
        }
    }
    tally_votes(true);
}

void raft_node::become_candidate(bool transfer) {
    TRIB_ASSERT(_role != raft::role::leader);
    reset(_term + 1);
    _role = raft::role::candidate;
    _voted_for = _opt.id;
    _votes_for.insert(_opt.id);
    for (node_id peer : _config.voters) {
        if (peer != _opt.id) {
            // After persist: our own vote must be durable before we ask for others'.
            send({.type = msg_type::vote,
                  .to = peer,
                  .term = _term,
                  .last_offset = _log.last_offset(),
                  .last_term = _log.last_term(),
                  .transfer = transfer},
                 true);
        }
    }
    tally_votes(false);
}

void raft_node::become_leader() {
    TRIB_ASSERT_MSG(_role == raft::role::candidate, "only a candidate becomes leader");
    _role = raft::role::leader;
    _leader = _opt.id;
    _election_elapsed = 0;
    for (node_id peer : _config.voters) {
        if (peer != _opt.id) {
            progress& p = _progress[peer];
            p.next = _log.last_offset() + 1;
            p.recent_active = true;
            p.heard_tick = p.caught_up_tick = _ticks;  // in sync until shown otherwise
        }
    }
    track_learners();
    // An entry of our own term: committing it commits everything before (Raft §5.4.2), and a
    // membership change waits for it (the one-server-at-a-time safety rule).
    auto start = append_as_leader(make_leader_start_batch(_opt.id, -1), entry_kind::leader_start);
    TRIB_ASSERT(start.has_value());
    _term_start_offset = *start;
    broadcast_append(false);
}

void raft_node::start_election(bool pre, bool transfer) {
    if (pre) {
        become_pre_candidate();
    } else {
        become_candidate(transfer);
    }
}

void raft_node::campaign() {
    if (_role != raft::role::leader && promotable()) {
        start_election(_opt.pre_vote, false);
    }
}

void raft_node::tally_votes(bool pre) {
    size_t granted = 0;
    size_t refused = 0;
    for (node_id v : _config.voters) {
        granted += _votes_for.contains(v) ? 1 : 0;
        refused += _votes_against.contains(v) ? 1 : 0;
    }
    if (granted >= _config.quorum()) {
        if (pre) {
            become_candidate(false);
        } else {
            become_leader();
        }
    } else if (refused > _config.voters.size() - _config.quorum()) {
        become_follower(_term, no_node);
    }
}

void raft_node::tick() {
    ++_ticks;
    if (_role == raft::role::leader) {
        ++_heartbeat_elapsed;
        if (++_election_elapsed >= _opt.election_ticks) {
            _election_elapsed = 0;
            _transfer_to = no_node;  // a transfer that took a whole election timeout failed
            if (_opt.check_quorum) {
                check_quorum_active();
            }
            if (_role != raft::role::leader) {
                return;
            }
        }
        for (auto& [peer, p] : _progress) {
            if (p.state == progress::mode::snapshot &&
                ++p.snapshot_elapsed >= _opt.election_ticks) {
                become_probe(p, p.match + 1);  // no answer: send it again
            }
        }
        if (_heartbeat_elapsed >= _opt.heartbeat_ticks) {
            _heartbeat_elapsed = 0;
            broadcast_heartbeat();
        }
        return;
    }
    if (++_election_elapsed >= _randomized_timeout) {
        _election_elapsed = 0;
        _leader = no_node;  // silent for a whole timeout: no lease to protect any more
        if (promotable()) {
            start_election(_opt.pre_vote, false);
        } else {
            reset_election_timeout();
        }
    }
}

bool raft_node::lease_holds() const {
    return _opt.check_quorum && _leader != no_node && _election_elapsed < _opt.election_ticks;
}

void raft_node::send(message m, bool after_persist) {
    m.from = _opt.id;
    (after_persist ? _msgs_after_persist : _msgs).push_back(std::move(m));
}

void raft_node::reply(const message& to, msg_type type, bool granted, offset_t match,
                      bool after_persist) {
    send({.type = type,
          .to = to.from,
          .term = _term,
          .granted = granted,
          .prev_offset = to.prev_offset,
          .match_offset = match},
         after_persist);
}

void raft_node::step(const message& m) {
    if (m.to != _opt.id || m.from == _opt.id) {
        return;  // misrouted
    }
    if (m.term > _term) {
        if (is_vote_request(m.type) && !m.transfer && lease_holds()) {
            // We hear from a leader: a node that lost touch must not depose it (§9.6).
            return;
        }
        bool keeps_term =
            m.type == msg_type::pre_vote || (m.type == msg_type::pre_vote_response && m.granted);
        if (!keeps_term) {
            bool from_leader = m.type == msg_type::append || m.type == msg_type::heartbeat ||
                               m.type == msg_type::snapshot;
            become_follower(m.term, from_leader ? m.from : no_node);
        }
    } else if (m.term < _term) {
        if (m.type == msg_type::append || m.type == msg_type::heartbeat ||
            m.type == msg_type::snapshot) {
            // A deposed leader (perhaps cut off, with pre-vote keeping our terms from
            // reaching it) learns the new term from this and steps down.
            reply(m, msg_type::append_response, false, -1, false);
        } else if (m.type == msg_type::pre_vote) {
            reply(m, msg_type::pre_vote_response, false, -1, false);
        }
        return;
    }

    switch (m.type) {
        case msg_type::pre_vote:
        case msg_type::vote:
            handle_vote_request(m);
            break;
        case msg_type::pre_vote_response:
        case msg_type::vote_response:
            handle_vote_response(m);
            break;
        case msg_type::append:
        case msg_type::heartbeat:
        case msg_type::snapshot:
            TRIB_ASSERT_MSG(_role != raft::role::leader, "two leaders in term {}: {} and {}", _term,
                            _opt.id, m.from);
            if (_role != raft::role::follower) {
                become_follower(_term, m.from);
            }
            _election_elapsed = 0;
            _leader = m.from;
            if (m.type == msg_type::append) {
                handle_append(m);
            } else if (m.type == msg_type::heartbeat) {
                handle_heartbeat(m);
            } else {
                handle_snapshot(m);
            }
            break;
        case msg_type::append_response:
            if (_role == raft::role::leader) {
                handle_append_response(m);
            }
            break;
        case msg_type::heartbeat_response:
            if (_role == raft::role::leader) {
                handle_heartbeat_response(m);
            }
            break;
        case msg_type::timeout_now:
            if (_role != raft::role::leader && promotable()) {
                start_election(false, true);
            }
            break;
    }
}

void raft_node::handle_vote_request(const message& m) {
    bool pre = m.type == msg_type::pre_vote;
    // No exception even where every voter is a quorum: the lost entries may have changed the
    // configuration, so a rejoining node does not know who the voters are (the simulation
    // found a leader elected without a committed entry that way).
    bool can_vote =
        !rejoining() && (_voted_for == m.from || (_voted_for == no_node && _leader == no_node) ||
                         (pre && m.term > _term));
    bool up_to_date = m.last_term > _log.last_term() ||
                      (m.last_term == _log.last_term() && m.last_offset >= _log.last_offset());
    msg_type answer = pre ? msg_type::pre_vote_response : msg_type::vote_response;
    if (can_vote && up_to_date) {
        if (!pre) {
            _voted_for = m.from;
            _election_elapsed = 0;
        }
        // A granted pre-vote carries the term it was asked for (ours may be lower).
        send({.type = answer, .to = m.from, .term = m.term, .granted = true}, true);
    } else {
        send({.type = answer, .to = m.from, .term = _term, .granted = false}, true);
    }
}

void raft_node::handle_vote_response(const message& m) {
    bool pre = m.type == msg_type::pre_vote_response;
    if (pre ? _role != raft::role::pre_candidate : _role != raft::role::candidate) {
        return;
    }
    if (pre && m.granted && m.term != _term + 1) {
        return;  // an answer to an earlier round
    }
    (m.granted ? _votes_for : _votes_against).insert(m.from);
    tally_votes(pre);
}

void raft_node::check_quorum_active() {
    size_t active = _config.contains(_opt.id) ? 1 : 0;
    for (auto& [peer, p] : _progress) {
        if (_config.contains(peer) && p.recent_active) {
            ++active;
        }
        p.recent_active = false;
    }
    if (active < _config.quorum()) {
        become_follower(_term, no_node);
    }
}

void raft_node::set_learners(std::set<node_id> learners) {
    learners.erase(_opt.id);
    std::swap(_learners, learners);
    if (_role != raft::role::leader) {
        return;
    }
    for (node_id gone : learners) {
        if (!_learners.contains(gone) && !_config.contains(gone)) {
            _progress.erase(gone);
        }
    }
    track_learners();
}

void raft_node::track_learners() {
    for (node_id id : _learners) {
        if (!_progress.contains(id)) {
            progress& p = _progress[id];
            p.next = _log.last_offset() + 1;
            p.recent_active = true;
            p.heard_tick = p.caught_up_tick = _ticks;
        }
    }
}

void raft_node::heard_from(progress& p) {
    p.recent_active = true;
    p.heard_tick = _ticks;
    if (p.match >= _log.last_offset()) {
        p.caught_up_tick = _ticks;
    }
}

std::vector<raft_node::peer_status> raft_node::peers() const {
    std::vector<peer_status> out;
    if (_role != raft::role::leader) {
        return out;
    }
    for (const auto& [id, p] : _progress) {
        out.push_back({.id = id,
                       .match = p.match,
                       .ticks_since_heard = _ticks - p.heard_tick,
                       .ticks_since_caught_up = _ticks - p.caught_up_tick,
                       .voter = _config.contains(id)});
    }
    return out;
}

status raft_node::transfer_leadership(node_id to) {
    if (_role != raft::role::leader) {
        return errc::not_leader;
    }
    if (to == _opt.id) {
        return {};
    }
    auto it = _progress.find(to);
    if (!_config.contains(to) || it == _progress.end()) {
        return errc::unknown_node;
    }
    _transfer_to = to;
    _election_elapsed = 0;  // it has one election timeout to finish
    if (it->second.match == _log.last_offset()) {
        send({.type = msg_type::timeout_now, .to = to, .term = _term}, false);
    } else {
        send_append(to, false);
    }
    return {};
}

}  // namespace trib::raft
