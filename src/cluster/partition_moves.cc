// A partition moving to other replicas (a reassignment the controller recorded). Raft changes
// its voters one at a time: each new replica first follows the log as a learner and becomes
// a voter only once it holds everything committed, so the group never counts on a member that
// cannot answer yet; then the replicas it leaves are removed, the leader last (it hands its
// leadership to a caught-up member of the target first). When the voters are the target's,
// the leader tells the controller, which makes the target the partition's replicas; nodes
// left out then delete their copy. A cancelled move is a move back to the old replicas.
// All on the Raft loop.
#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/clock.h"
#include "base/logging.h"
#include "cluster/partition.h"

namespace trib::cluster {

namespace {

// How often the leader of a finished move reports it until the controller's image shows it.
constexpr uint64_t report_every_ticks = 10;

bool contains(const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

void partition::set_assignment(std::vector<int32_t> replicas, std::vector<int32_t> target) {
    if (replicas == _binding.replicas && target == _binding.target) return;
    if (target != _binding.target) {
        log::get("cluster")->info(
            "{}-{}: {}", _topic, _index,
            target.empty() ? fmt::format("replicas now {}", fmt::join(replicas, ","))
                           : fmt::format("moving to replicas {}", fmt::join(target, ",")));
    }
    raft::group* g = find_group();
    bool leading = g != nullptr && g->node().role() == raft::role::leader;
    if (leading && !replicas.empty() &&
        (_binding.replicas.empty() || replicas.front() != _binding.replicas.front())) {
        // A new preferred leader (a reassignment that put another replica first, such as
        // `trib partition transfer-leadership`): hand it over soon, not at the next periodic
        // check, and also where that check is off.
        _prefer_soon_ticks =
            static_cast<uint64_t>(std::max(1, prefer_soon_ms / std::max(1, _binding.tick_ms)));
    }
    _binding.replicas = std::move(replicas);
    _binding.target = std::move(target);
    _move_reported_tick = 0;
}

void partition::drive_move(raft::raft_node& node,
                           const std::vector<raft::raft_node::peer_status>& peers) {
    const auto& voters = node.config().voters;
    // Learners are not durable in Raft: every replica sets them, so a new leader has them.
    std::set<raft::node_id> learners;
    for (int32_t id : _binding.target) {
        if (!node.config().contains(id)) learners.insert(id);
    }
    if (learners != node.learners()) node.set_learners(learners);

    if (_binding.target.empty() || node.role() != raft::role::leader || !node.leader_ready() ||
        node.transfer_target() != raft::no_node || node.config_change_pending()) {
        return;
    }
    auto log = log::get("cluster");
    auto heard_recently = [&](const raft::raft_node::peer_status& p) {
        return p.ticks_since_heard <=
               static_cast<uint64_t>(std::max(1, _binding.election_ticks / 2));
    };
    // 1. Add: a learner that answers and holds everything committed becomes a voter.
    bool adding = false;
    for (int32_t id : _binding.target) {
        if (node.config().contains(id)) continue;
        adding = true;
        for (const auto& p : peers) {
            if (p.id != id || !heard_recently(p) || p.match < 0 || p.match < node.commit_offset()) {
                continue;
            }
            if (node.add_voter(id, wall_clock_ms())) {
                log->info("{}-{}: replica {} caught up, now a voter", _topic, _index, id);
            }
            return;
        }
    }
    if (adding) return;  // waiting for a learner to catch up
    // 2. Remove the voters the target leaves out, others before this leader.
    for (int32_t id : voters) {
        if (id == _binding.self || contains(_binding.target, id)) continue;
        if (node.remove_voter(id, wall_clock_ms())) {
            log->info("{}-{}: replica {} removed from the voters", _topic, _index, id);
        }
        return;
    }
    if (!contains(_binding.target, _binding.self)) {
        std::optional<raft::raft_node::peer_status> best;
        for (const auto& p : peers) {
            if (p.voter && heard_recently(p) && (!best || p.match > best->match)) best = p;
        }
        if (best && node.transfer_leadership(best->id)) {
            log->info("{}-{}: leaving the replicas, handing leadership to node {}", _topic, _index,
                      best->id);
        }
        return;
    }
    // 3. The voters are the target's: tell the controller, until its image shows it.
    if (!_binding.finish_move ||
        (_move_reported_tick != 0 && _ticks_leading - _move_reported_tick < report_every_ticks)) {
        return;
    }
    _move_reported_tick = std::max<uint64_t>(1, _ticks_leading);
    _binding.finish_move(_topic, _index, _binding.target);
}

}  // namespace trib::cluster
