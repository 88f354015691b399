// One simulated run: the safety phase (faults and workload, invariants checked throughout),
// then the liveness phase (everything healed; a leader must be elected and a fresh entry
// committed and applied on every voter in time), then the final checks.
#pragma once

#include <cstdint>
#include <string>

#include "sim/options.h"
#include "sim/trace.h"

namespace trib::sim {

enum class outcome : uint8_t { pass, liveness_failure, violation };

struct run_result {
    outcome verdict = outcome::pass;
    std::string reason;
    uint64_t trace_hash = 0;
    sim_stats stats;
};

// safety_ticks > 0 overrides the drawn phase length.
run_result run_seed(uint64_t seed, int64_t safety_ticks, bool verbose);

}  // namespace trib::sim
