// The simulation's only source of randomness: a small seeded generator (splitmix64). Every
// choice of a run (network, disks, faults, workload, the nodes' own election timers) comes
// from generators derived from the run's seed, so one seed replays one run exactly.
#pragma once

#include <cmath>
#include <cstdint>

namespace trib::sim {

// Derives an independent seed from a seed and a label (a stream name, a node id).
constexpr uint64_t mix(uint64_t seed, uint64_t label) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (label + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// The independent streams a run draws from, so that e.g. a change to the workload does not
// shift every network decision of the same seed.
enum class stream : uint64_t { options = 1, network, faults, workload, disk, node_base = 1000 };
constexpr uint64_t mix(uint64_t seed, stream s) {
    return mix(seed, static_cast<uint64_t>(s));
}

class rng {
  public:
    explicit rng(uint64_t seed) : _state(seed) {}

    uint64_t next() {
        _state += 0x9e3779b97f4a7c15ULL;
        uint64_t z = _state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n); the modulo bias is irrelevant for n this small.
    uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
    // Uniform in [lo, hi], both included.
    int64_t between(int64_t lo, int64_t hi) {
        return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
    }
    // Uniform in [0, 1).
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
    bool chance(double p) { return unit() < p; }
    double exponential(double mean) { return -std::log(1.0 - unit()) * mean; }

  private:
    uint64_t _state;
};

}  // namespace trib::sim
