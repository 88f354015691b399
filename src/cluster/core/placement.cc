#include "cluster/core/placement.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "base/assert.h"

namespace trib::cluster::core {

std::optional<std::vector<replica_list>> place_replicas(const image& img, int32_t count,
                                                        int32_t replication_factor) {
    TRIB_ASSERT(count > 0 && replication_factor > 0);
    struct load {
        int64_t replicas = 0;
        int64_t leaders = 0;
        int64_t followers = 0;
    };
    std::map<node_id, load> loads;
    for (const auto& [id, b] : img.brokers) {
        if (!b.fenced && !img.draining.contains(id)) {
            loads[id];
        }
    }
    if (loads.size() < static_cast<size_t>(replication_factor)) {
        return std::nullopt;
    }
    for (const auto& [name, t] : img.topics) {
        for (const auto& replicas : t.partitions) {
            for (size_t i = 0; i < replicas.size(); ++i) {
                auto it = loads.find(replicas[i]);
                if (it != loads.end()) {
                    ++it->second.replicas;
                    ++(i == 0 ? it->second.leaders : it->second.followers);
                }
            }
        }
    }
    auto rack_of = [&](node_id id) -> std::optional<std::string> {
        return img.brokers.at(id).rack;
    };

    std::vector<replica_list> placed;
    placed.reserve(static_cast<size_t>(count));
    for (int32_t p = 0; p < count; ++p) {
        replica_list replicas;
        std::set<std::string> racks_used;
        for (int32_t r = 0; r < replication_factor; ++r) {
            bool leader = r == 0;
            auto better = [&](node_id a, node_id b) {
                auto key = [&](node_id id) {
                    const load& l = loads.at(id);
                    auto rack = rack_of(id);
                    bool rack_taken = rack && racks_used.contains(*rack);
                    return std::tuple(rack_taken, l.replicas, leader ? l.leaders : l.followers, id);
                };
                return key(a) < key(b);
            };
            std::optional<node_id> best;
            for (const auto& [id, l] : loads) {
                if (std::find(replicas.begin(), replicas.end(), id) != replicas.end()) {
                    continue;
                }
                if (!best || better(id, *best)) {
                    best = id;
                }
            }
            TRIB_ASSERT(best.has_value());
            replicas.push_back(*best);
            load& l = loads.at(*best);
            ++l.replicas;
            ++(leader ? l.leaders : l.followers);
            if (auto rack = rack_of(*best)) {
                racks_used.insert(*rack);
            }
        }
        placed.push_back(std::move(replicas));
    }
    return placed;
}

std::vector<reassign_partition> plan_drain(const image& img, node_id node, size_t max_moves,
                                           std::vector<std::string>* stuck) {
    std::map<node_id, int64_t> replicas;  // per candidate broker, counting planned moves
    for (const auto& [id, b] : img.brokers) {
        if (!b.fenced && id != node && !img.draining.contains(id)) replicas[id];
    }
    for (const auto& [name, t] : img.topics) {
        for (size_t p = 0; p < t.partitions.size(); ++p) {
            for (node_id id : all_replicas(t, static_cast<int32_t>(p))) {
                if (auto it = replicas.find(id); it != replicas.end()) ++it->second;
            }
        }
    }
    std::vector<reassign_partition> out;
    for (const auto& [name, t] : img.topics) {
        for (size_t p = 0; p < t.partitions.size() && out.size() < max_moves; ++p) {
            auto index = static_cast<int32_t>(p);
            const replica_list& current = t.partitions[p];
            if (t.moving.contains(index) ||
                std::find(current.begin(), current.end(), node) == current.end()) {
                continue;
            }
            std::optional<node_id> best;
            for (const auto& [id, count] : replicas) {
                if (std::find(current.begin(), current.end(), id) != current.end()) continue;
                if (!best || count < replicas.at(*best)) best = id;
            }
            if (!best) {
                if (stuck) stuck->push_back(name + "-" + std::to_string(index));
                continue;
            }
            replica_list target = current;
            std::replace(target.begin(), target.end(), node, *best);
            ++replicas.at(*best);
            out.push_back({t.id, index, std::move(target)});
        }
    }
    return out;
}

}  // namespace trib::cluster::core
