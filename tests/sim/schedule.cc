#include "sim/schedule.h"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace trib::sim {

using raft::node_id;

schedule::schedule(const sim_options& options, sim_cluster& cluster, trace& tr, sim_stats& stats)
    : _options(options),
      _cluster(cluster),
      _trace(tr),
      _stats(stats),
      _rng(mix(options.seed, stream::faults)) {}

void schedule::before_tick(int64_t now) {
    maybe_partition(now);
    maybe_crash(now);
    maybe_pause(now);
    maybe_propose(now);
    maybe_change_members(now);
    maybe_transfer();
    maybe_compact();
}

void schedule::maybe_partition(int64_t now) {
    sim_network& net = _cluster.network();
    if (_partition_until >= 0) {
        if (now >= _partition_until) {
            net.heal();
            _partition_until = -1;
            _trace.record(event::heal, {}, [] { return std::string("network healed"); });
        }
        return;
    }
    if (!_rng.chance(_options.partition_rate)) {
        return;
    }
    int total = _options.voters + _options.spares;
    if (total < 2) {
        return;
    }
    // Long enough for the far side to notice: at least one election timeout.
    _partition_until = now + _rng.between(election_timeouts(1), election_timeouts(5));
    ++_stats.partitions;
    std::vector<bool> side(static_cast<size_t>(total + 1), false);
    auto on_side = [&](node_id id) { return side[static_cast<size_t>(id)]; };
    uint64_t kind = _rng.below(3);
    if (kind == 0 || kind == 2) {
        side[static_cast<size_t>(random_node())] = true;  // one node alone
    } else {
        for (node_id id = 1; id <= total; ++id) {
            side[static_cast<size_t>(id)] = _rng.chance(0.5);
        }
    }
    // kind 2 is one-way: the node's messages are lost, or the messages to it.
    bool outbound = _rng.chance(0.5);
    for (node_id a = 1; a <= total; ++a) {
        for (node_id b = 1; b <= total; ++b) {
            if (on_side(a) && !on_side(b)) {
                if (kind != 2 || outbound) {
                    net.cut(a, b);
                }
                if (kind != 2 || !outbound) {
                    net.cut(b, a);
                }
            }
        }
    }
    _trace.record(event::partition, {static_cast<int64_t>(kind), outbound, _partition_until}, [&] {
        std::vector<node_id> group;
        for (node_id id = 1; id <= total; ++id) {
            if (on_side(id)) {
                group.push_back(id);
            }
        }
        const char* what = kind == 0   ? "isolated"
                           : kind == 1 ? "split off"
                           : outbound  ? "cannot send"
                                       : "cannot receive";
        return fmt::format("partition until {}: {{{}}} {}", _partition_until, fmt::join(group, ","),
                           what);
    });
}

void schedule::maybe_crash(int64_t now) {
    if (!_rng.chance(_options.crash_rate)) {
        return;
    }
    // Half the crashes hit a node with a write in flight: that is when a crash can take back
    // something the node must not lose, so it is where durability bugs show.
    std::vector<node_id> writing;
    for (const sim_node& n : _cluster.nodes()) {
        if (n.is_up() && n.writing) {
            writing.push_back(n.id);
        }
    }
    node_id id =
        !writing.empty() && _rng.chance(0.5) ? writing[_rng.below(writing.size())] : random_node();
    _cluster.crash(id, now + _rng.between(1, election_timeouts(3)));
}

void schedule::maybe_pause(int64_t now) {
    if (!_rng.chance(_options.pause_rate)) {
        return;
    }
    node_id id = random_node();
    _cluster.pause(id, now + _rng.between(1, election_timeouts(5)));
}

void schedule::maybe_propose(int64_t now) {
    if (!_rng.chance(_options.propose_rate)) {
        return;
    }
    std::vector<node_id> leaders = _cluster.leaders();
    node_id at = raft::no_node;
    if (leaders.empty()) {
        // Now and then a client tries a node that is not leader (it must refuse).
        if (_rng.chance(0.1)) {
            at = random_node();
        }
    } else if (leaders.size() == 1 || _rng.chance(0.75)) {
        at = _cluster.leader();
    } else {
        // A stale leader (cut off, not yet stepped down) may accept entries that get lost.
        at = leaders[_rng.below(leaders.size())];
    }
    if (at != raft::no_node && _cluster.node(at).is_up()) {
        (void)_cluster.propose(at, now);
    }
}

void schedule::maybe_change_members(int64_t now) {
    if (!_rng.chance(_options.member_change_rate)) {
        return;
    }
    node_id leader = _cluster.leader();
    if (leader == raft::no_node) {
        return;
    }
    const std::vector<node_id>& voters = _cluster.node(leader).raft->config().voters;
    int total = _options.voters + _options.spares;
    std::vector<node_id> outside;
    for (node_id id = 1; id <= total; ++id) {
        if (std::find(voters.begin(), voters.end(), id) == voters.end()) {
            outside.push_back(id);
        }
    }
    // Drift around the initial size; never below one voter.
    bool add = voters.size() <= 1 ||
               (!outside.empty() &&
                _rng.chance(static_cast<int>(voters.size()) < _options.voters ? 0.7 : 0.3));
    if (add && outside.empty()) {
        return;
    }
    node_id target = add ? outside[_rng.below(outside.size())] : voters[_rng.below(voters.size())];
    (void)_cluster.change_members(leader, target, add, now);
}

void schedule::maybe_transfer() {
    if (!_rng.chance(_options.transfer_rate)) {
        return;
    }
    node_id leader = _cluster.leader();
    if (leader == raft::no_node) {
        return;
    }
    const std::vector<node_id>& voters = _cluster.node(leader).raft->config().voters;
    std::vector<node_id> targets;
    for (node_id id : voters) {
        if (id != leader) {
            targets.push_back(id);
        }
    }
    // Now and then a target that is not a voter (it must be refused).
    node_id to =
        targets.empty() || _rng.chance(0.05) ? random_node() : targets[_rng.below(targets.size())];
    (void)_cluster.transfer(leader, to);
}

void schedule::maybe_compact() {
    for (sim_node& n : _cluster.nodes()) {
        if (_rng.chance(_options.compact_rate)) {
            _cluster.compact(n.id);
        }
    }
}

void schedule::heal_all(int64_t now) {
    sim_network& net = _cluster.network();
    net.heal();
    _partition_until = -1;
    net.set_conditions(
        {.drop = 0, .duplicate = 0, .delay_mean = std::min(_options.delay_mean, 1.0)});
    for (sim_node& n : _cluster.nodes()) {
        if (n.state == sim_node::health::crashed) {
            _cluster.restart(n.id);
        } else if (n.state == sim_node::health::paused) {
            _cluster.resume(n.id);
        }
    }
    _trace.record(event::phase, {now}, [] {
        return std::string("liveness phase: network healed and reliable, every node up");
    });
}

}  // namespace trib::sim
