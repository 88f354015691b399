// The shape of one simulated run, drawn from its seed ("swarm testing": each seed gets its
// own mix of cluster size, network quality, fault rates and workload, so a budget of seeds
// covers calm clusters, hostile ones and everything between).
#pragma once

#include <cstdint>
#include <string>

namespace trib::sim {

struct sim_options {
    uint64_t seed = 0;

    // Cluster: voters 1..voters start in the bootstrap configuration; spares
    // voters+1..voters+spares start empty and join only through membership changes.
    int voters = 3;
    int spares = 2;
    int election_ticks = 10;
    int heartbeat_ticks = 1;
    int64_t ms_per_tick = 10;

    // Phases: faults and workload for safety_ticks, then everything heals and the cluster
    // must elect a leader within liveness_leader_ticks and commit a fresh entry on every
    // voter within liveness_commit_ticks (both counted from the heal).
    int64_t safety_ticks = 2000;
    int64_t liveness_leader_ticks = 200;
    int64_t liveness_commit_ticks = 600;

    // Network (per message): drop and duplicate probabilities, and the mean of the
    // exponential delay in ticks; reordering comes from the delays.
    double drop = 0;
    double duplicate = 0;
    double delay_mean = 1;

    // Faults (per tick, for the whole cluster).
    double partition_rate = 0;  // isolate one node, split in two, or cut one way
    double crash_rate = 0;      // a crash loses unsynced writes
    double tear_chance = 0;     // ... and may tear the next write
    double damage_chance = 0;   // ... or find synced entries damaged and drop them (repair)
    double pause_rate = 0;      // no ticks, no delivery, for up to 5 election timeouts
    int fsync_max_ticks = 0;    // each fsync takes 0..this many ticks

    // Workload (per tick).
    double propose_rate = 0.2;
    double member_change_rate = 0;
    double transfer_rate = 0;
    double compact_rate = 0;  // per node

    std::string describe() const;
};

// Draws the options of run `seed`. safety_ticks > 0 overrides the drawn phase length.
sim_options draw_options(uint64_t seed, int64_t safety_ticks);

}  // namespace trib::sim
