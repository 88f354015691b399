// What happens to the cluster each tick of the safety phase, drawn from the seed: faults
// (partitions, crashes, pauses) and the clients' requests (proposals, membership changes,
// leadership transfers, compactions). heal_all() ends every fault for the liveness phase.
#pragma once

#include <cstdint>

#include "sim/options.h"
#include "sim/rng.h"
#include "sim/sim_cluster.h"
#include "sim/trace.h"

namespace trib::sim {

class schedule {
  public:
    schedule(const sim_options& options, sim_cluster& cluster, trace& tr, sim_stats& stats);

    void before_tick(int64_t now);
    // Heals the network and makes it reliable and fast, and brings every node back.
    void heal_all(int64_t now);

  private:
    void maybe_partition(int64_t now);
    void maybe_crash(int64_t now);
    void maybe_pause(int64_t now);
    void maybe_propose(int64_t now);
    void maybe_change_members(int64_t now);
    void maybe_transfer();
    void maybe_compact();
    int64_t election_timeouts(int64_t count) const { return count * _options.election_ticks; }
    raft::node_id random_node() {
        return static_cast<raft::node_id>(_rng.between(1, _options.voters + _options.spares));
    }

    const sim_options& _options;
    sim_cluster& _cluster;
    trace& _trace;
    sim_stats& _stats;
    rng _rng;
    int64_t _partition_until = -1;  // -1: no partition in effect
};

}  // namespace trib::sim
