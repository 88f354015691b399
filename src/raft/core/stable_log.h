// What the state machine reads of the durable log, synchronously (like etcd raft's Storage):
// the driver implements it over the storage engine, the simulation over its simulated disk.
// Writes never go through here; they leave as `ready` work. Reads see everything the driver
// has written, synced or not; the state machine keeps what it has not yet seen persisted.
#pragma once

#include <vector>

#include "base/result.h"
#include "raft/core/types.h"

namespace trib::raft {

// Where one entry sits: enough to match logs without reading the batch.
struct entry_position {
    offset_t base_offset = 0;
    offset_t last_offset = 0;
    term_t term = 0;
};

class stable_log {
  public:
    virtual ~stable_log() = default;
    // The latest snapshot; the log holds the entries after it (snapshot().last_offset + 1 is
    // the log start). A fresh node's snapshot is at offset -1 with its bootstrap voters.
    virtual raft::snapshot snapshot() const = 0;
    // The last offset held; snapshot().last_offset when the log is empty.
    virtual offset_t last_offset() const = 0;
    // The term of the entry holding `offset`, for offsets from snapshot().last_offset to
    // last_offset(). Called on every append sent and received: no I/O (keep a term index).
    virtual term_t term_of(offset_t offset) const = 0;
    // The entry holding `offset`, which lies within the log. May read the disk (only log
    // repairs need batch boundaries).
    virtual result<entry_position> position_of(offset_t offset) const = 0;
    // Entries from the one starting at `from` (a batch boundary) up to `last` inclusive,
    // stopping before `max_bytes` would be passed (always at least one entry).
    virtual result<std::vector<entry>> entries(offset_t from, offset_t last,
                                               size_t max_bytes) const = 0;
    // Each config entry in the log, in order (the state machine reads them at start).
    virtual std::vector<std::pair<offset_t, configuration>> configs() const = 0;
};

}  // namespace trib::raft
