#include "sim/options.h"

#include <fmt/format.h>

#include "sim/rng.h"

namespace trib::sim {

sim_options draw_options(uint64_t seed, int64_t safety_ticks) {
    rng r(mix(seed, stream::options));
    sim_options o;
    o.seed = seed;
    // Mostly 3 and 5 voters; a single voter checks the degenerate quorum.
    uint64_t size = r.below(10);
    o.voters = size == 0 ? 1 : size < 5 ? 3 : 5;
    o.spares = 2;
    o.safety_ticks = safety_ticks > 0 ? safety_ticks : r.between(2000, 4000);

    // Each fault is off for a share of the seeds, so calm runs (which commit a lot) and
    // hostile runs (which elect a lot) both get covered.
    auto maybe = [&](double off_share, double lo, double hi) {
        return r.chance(off_share) ? 0.0 : r.uniform(lo, hi);
    };
    o.drop = maybe(0.25, 0, 0.20);
    o.duplicate = maybe(0.4, 0, 0.05);
    // Skewed toward fast networks: a mean near the election timeout rarely commits anything.
    double u = r.unit();
    o.delay_mean = 1 + 9 * u * u;
    o.partition_rate = maybe(0.3, 0, 0.01);
    o.crash_rate = maybe(0.3, 0, 0.02);
    o.tear_chance = r.unit();
    o.damage_chance = maybe(0.5, 0, 0.3);
    o.pause_rate = maybe(0.5, 0, 0.005);
    o.fsync_max_ticks = static_cast<int>(r.between(0, 3));
    o.propose_rate = r.uniform(0.05, 0.5);
    o.member_change_rate = maybe(0.3, 0, 0.01);
    o.transfer_rate = maybe(0.3, 0, 0.01);
    o.compact_rate = maybe(0.3, 0, 0.02);
    return o;
}

std::string sim_options::describe() const {
    return fmt::format(
        "seed={} voters={} spares={} election_ticks={} heartbeat_ticks={} safety_ticks={} "
        "drop={:.3f} duplicate={:.3f} delay_mean={:.2f} partition_rate={:.4f} "
        "crash_rate={:.4f} tear_chance={:.2f} damage_chance={:.2f} pause_rate={:.4f} "
        "fsync_max_ticks={} "
        "propose_rate={:.3f} member_change_rate={:.4f} transfer_rate={:.4f} "
        "compact_rate={:.4f}",
        seed, voters, spares, election_ticks, heartbeat_ticks, safety_ticks, drop, duplicate,
        delay_mean, partition_rate, crash_rate, tear_chance, damage_chance, pause_rate,
        fsync_max_ticks, propose_rate, member_change_rate, transfer_rate, compact_rate);
}

}  // namespace trib::sim
