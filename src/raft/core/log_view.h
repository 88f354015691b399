// The state machine's view of its log: the durable part through stable_log, and the entries
// it has accepted but not yet seen persisted (handed to the driver in a `ready` or waiting
// for the next one). Offsets past last_offset() do not exist here even if the disk still
// holds them: a truncation takes effect at once and reaches the disk with the next ready.
#pragma once

#include <algorithm>
#include <vector>

#include "raft/core/stable_log.h"

namespace trib::raft {

class log_view {
  public:
    explicit log_view(stable_log& stable);

    offset_t start_offset() const { return _snapshot.last_offset + 1; }
    offset_t last_offset() const;
    term_t last_term() const;
    // The entry holding `offset`; offset == start_offset() - 1 answers the snapshot's position.
    result<entry_position> position_of(offset_t offset) const;
    // term_at for offsets known to lie in [start_offset() - 1, last_offset()].
    term_t term_at(offset_t offset) const;
    bool matches(offset_t offset, term_t term) const;
    result<std::vector<entry>> entries(offset_t from, offset_t last, size_t max_bytes) const;
    const raft::snapshot& snapshot() const { return _snapshot; }

    // Appends after last_offset() (asserted contiguous), or after truncating from the first
    // entry's base offset when that lies inside the log.
    void append(std::vector<entry> entries);
    // Replaces the whole log with a snapshot (received from the leader).
    void restore(const raft::snapshot& snap);
    // The application made `snap` durable and dropped the log through its last offset.
    void compacted(const raft::snapshot& snap);

    // Ready bookkeeping: entries not yet handed to the driver, and which of them it made
    // durable (only those still in the log with the same term count as stable).
    std::vector<entry> take_unhanded();
    bool has_unhanded() const { return last_offset() > std::max(_handed_last, _stable_last); }
    bool has_pending_snapshot() const { return _pending_snapshot.has_value(); }
    std::optional<raft::snapshot> take_pending_snapshot();
    void persisted(const std::vector<entry>& written);
    offset_t stable_offset() const { return _stable_last; }

  private:
    const entry* unstable_at(offset_t offset) const;

    stable_log& _stable;
    raft::snapshot _snapshot;
    std::optional<raft::snapshot> _pending_snapshot;  // received, not yet handed out
    offset_t _stable_last;                            // durable and still ours through here
    offset_t _handed_last;                            // handed to the driver through here
    std::vector<entry> _unstable;                     // every entry after _stable_last
};

}  // namespace trib::raft
