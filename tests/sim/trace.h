// What a run records: an event trace (hashed always, printed with --verbose) and counters.
// The hash covers every event with its numeric fields, so two runs of one seed that differ
// anywhere differ in the hash (the determinism check); formatting only happens when printing.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "sim/rng.h"

namespace trib::sim {

enum class event : uint8_t {
    role,
    send,
    deliver,
    drop,
    duplicate,
    ready,
    apply,
    snapshot_install,
    compact,
    crash,
    restart,
    pause,
    resume,
    partition,
    heal,
    propose,
    member_change,
    transfer,
    ack,
    phase,
};

class trace {
  public:
    explicit trace(bool verbose) : _verbose(verbose) {}

    bool verbose() const { return _verbose; }
    void set_tick(int64_t tick) { _tick = tick; }
    int64_t tick() const { return _tick; }
    uint64_t hash() const { return _hash; }

    // Hashes the event; `describe` (returning a std::string) runs only when verbose.
    template <typename Describe>
    void record(event kind, std::initializer_list<int64_t> fields, Describe&& describe) {
        _hash = mix(_hash, static_cast<uint64_t>(kind) + (static_cast<uint64_t>(_tick) << 8));
        for (int64_t f : fields) {
            _hash = mix(_hash, static_cast<uint64_t>(f));
        }
        if (_verbose) {
            print(describe());
        }
    }
    void print(const std::string& line) const;

  private:
    bool _verbose;
    int64_t _tick = 0;
    uint64_t _hash = 0x5eed;
};

// Counters, per run and summed over a range of seeds.
struct sim_stats {
    uint64_t seeds = 0;
    uint64_t images_compared = 0;  // offsets whose controller image was hashed
    uint64_t ticks = 0;
    uint64_t elections = 0;  // a node became leader of a new term
    uint64_t transfers_requested = 0;
    uint64_t transfers_completed = 0;  // the target became leader after the request
    uint64_t member_changes_proposed = 0;
    uint64_t member_changes_committed = 0;  // distinct config entries applied
    uint64_t snapshots_sent = 0;
    uint64_t snapshots_installed = 0;
    uint64_t compactions = 0;
    uint64_t crashes = 0;
    uint64_t repairs = 0;         // a crash left damaged entries, dropped and fetched again
    uint64_t repair_blocked = 0;  // runs ending with no quorum but for a rejoining voter
    uint64_t pauses = 0;
    uint64_t partitions = 0;
    uint64_t truncations = 0;  // a write replaced a divergent suffix
    uint64_t proposals = 0;    // accepted by a leader
    uint64_t acked = 0;        // committed as reported to the proposer
    uint64_t messages = 0;
    uint64_t dropped = 0;
    uint64_t duplicated = 0;
    uint64_t violations = 0;
    uint64_t liveness_failures = 0;
    uint64_t determinism_mismatches = 0;

    void add(const sim_stats& o);
    std::string summary() const;
};

}  // namespace trib::sim
