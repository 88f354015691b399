// A partition's leadership moving on purpose: back to its preferred replica, to a replica an
// operator names, and away from a node that stops cleanly. All on the Raft loop.
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/logging.h"
#include "cluster/partition.h"
#include "raft/host.h"

namespace trib::cluster {

void partition::prefer_leader(raft::raft_node& node,
                              const std::vector<raft::raft_node::peer_status>& peers) {
    // Leaders go back to their preferred replicas (the first of each assignment, which
    // placement spreads evenly), as Kafka's auto.leader.rebalance.enable does.
    auto every = static_cast<uint64_t>(
        std::max<int64_t>(1, _binding.preferred_leader_check_ms / std::max(1, _binding.tick_ms)));
    bool periodic = _binding.preferred_leader_check_ms > 0 && _ticks_leading % every == 0;
    if (!periodic && _prefer_soon_ticks == 0) return;
    int32_t preferred = _binding.replicas.empty() ? -1 : _binding.replicas.front();
    if (preferred == _binding.self) _prefer_soon_ticks = 0;  // done, or it came back to us
    if (preferred == _binding.self || node.transfer_target() != raft::no_node) return;
    for (const auto& p : peers) {
        // Only to a replica that has the whole log and answers: the handover is then quick.
        if (p.id == preferred && p.voter &&
            p.ticks_since_heard <=
                static_cast<uint64_t>(std::max(1, _binding.election_ticks / 2)) &&
            p.match == node.log().last_offset()) {
            (void)node.transfer_leadership(preferred);  // the host pumps after the tick
        }
    }
}

result<void, std::string> partition::transfer_leadership(int32_t to) {
    raft::group* g = find_group();
    if (g == nullptr || g->failed()) return unexpected(std::string("this replica is stopped"));
    auto& node = g->node();
    if (node.role() != raft::role::leader) {
        return unexpected(
            fmt::format("node {} does not lead it (the leader: {})", _binding.self, node.leader()));
    }
    if (std::find(_binding.replicas.begin(), _binding.replicas.end(), to) ==
        _binding.replicas.end()) {
        return unexpected(fmt::format("node {} holds no replica of it (replicas: {})", to,
                                      fmt::join(_binding.replicas, ",")));
    }
    if (to == _binding.self) return {};
    if (auto st = node.transfer_leadership(to); !st) {
        return unexpected(fmt::format("node {} cannot take it now", to));
    }
    log::get("cluster")->info("{}-{}: handing leadership to node {} (asked through the admin API)",
                              _topic, _index, to);
    g->pump();
    return {};
}

bool partition::hand_over() {
    raft::group* g = find_group();
    if (g == nullptr || g->failed()) return false;
    auto& node = g->node();
    if (node.role() != raft::role::leader) return false;
    if (node.transfer_target() != raft::no_node) return true;  // under way
    // The follower furthest along among those heard from within an election timeout.
    auto window = static_cast<uint64_t>(std::max(1, _binding.election_ticks));
    std::optional<raft::raft_node::peer_status> best;
    for (const auto& p : node.peers()) {
        if (p.voter && p.ticks_since_heard <= window && (!best || p.match > best->match)) best = p;
    }
    if (!best || !node.transfer_leadership(best->id)) return false;
    g->pump();
    return true;
}

}  // namespace trib::cluster
