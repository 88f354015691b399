// A stable_log kept in memory, with a disk's failure model: writes land in a volatile layer
// until sync(); crash() loses what was not synced, and may tear the last unsynced write (a
// prefix of its bytes survives and fails its CRC, so recovery drops it). Used by the unit
// tests, the simulation (one per simulated disk) and the pure-core benchmark.
#pragma once

#include <vector>

#include "raft/core/stable_log.h"

namespace trib::raft {

class memory_log final : public stable_log {
  public:
    explicit memory_log(configuration bootstrap);

    raft::snapshot snapshot() const override;
    offset_t last_offset() const override;
    term_t term_of(offset_t offset) const override;
    result<entry_position> position_of(offset_t offset) const override;
    result<std::vector<entry>> entries(offset_t from, offset_t last,
                                       size_t max_bytes) const override;
    std::vector<std::pair<offset_t, configuration>> configs() const override;

    // Carries out the writes of a ready (not its messages), volatile until sync().
    void write(const ready& rd);
    // The application compacts the prefix through `snap.last_offset` (volatile until sync).
    void compact(const raft::snapshot& snap);
    void sync();
    bool has_unsynced() const { return !_unsynced.empty(); }
    // A crash: of the writes since the last sync, a prefix chosen by `seed` reached the disk
    // (in order, as a kernel may write back); with `tear`, the next one left a prefix of its
    // bytes, which recovery finds failing its CRC and drops.
    void crash(uint64_t seed, bool tear);
    // Damage found at open and repaired as log_store does for a replica with peers: the loss
    // is remembered in the hard state (hard_state::lost_through), then the entries from
    // index `first` on go. Durable at once; only right after a crash (nothing unsynced).
    void repair_damage(size_t first);

    hard_state state() const { return _volatile_state.hard; }
    // The full entries held (tests and invariant checks).
    const std::vector<entry>& all_entries() const { return _volatile_state.log; }

  private:
    struct image {
        hard_state hard;
        raft::snapshot snap;
        std::vector<entry> log;
    };
    // One write since the last sync, replayable onto the durable image.
    struct op {
        enum class kind : uint8_t { hard, snapshot, truncate, append, compact } what;
        hard_state hard;
        raft::snapshot snap;
        offset_t offset = 0;
        entry e;
        bool torn = false;  // a crash cut this write short
    };
    static void apply(image& img, const op& o);
    void record(op o);
    size_t index_of(offset_t offset) const;  // entry holding offset (asserted present)

    image _durable_state;
    image _volatile_state;
    std::vector<op> _unsynced;
};

}  // namespace trib::raft
