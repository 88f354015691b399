// The sparse indexes of one segment: offset → file position, and timestamp → offset. An entry
// is added at most every `interval_bytes` of data, so the indexes stay small enough to keep in
// memory; they are also appended to `<base>.index` and `<base>.timeindex` so a restart need
// not rescan old segments. Both are derived data: a missing or inconsistent file is rebuilt
// from the segment (docs/formats/storage.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "base/result.h"
#include "storage/file.h"

namespace trib::storage {

struct index_entry {
    int64_t base_offset;    // of the batch that starts at `position`
    uint32_t position;      // byte position of that batch in the segment file
    int64_t max_timestamp;  // largest timestamp in the segment up to and including that batch
};

class segment_index {
  public:
    segment_index(int64_t segment_base, uint32_t interval_bytes)
        : _segment_base(segment_base), _interval_bytes(interval_bytes) {}

    // Opens (creating if missing) the index files beside the segment and loads their entries.
    // Returns false (and starts empty) when what is on disk does not fit `segment_size`.
    result<bool> open(const std::filesystem::path& offset_path,
                      const std::filesystem::path& time_path, uint64_t segment_size);

    // Notes a batch appended at `position`; adds an entry if it is due.
    status on_batch(int64_t base_offset, uint32_t position, uint32_t size, int64_t max_timestamp);

    // The entry of the last indexed batch at or before `offset`, if any.
    std::optional<index_entry> floor_offset(int64_t offset) const;
    // The last entry whose max timestamp is below `timestamp`: every batch before it has only
    // smaller timestamps, so a search for the first timestamp >= `timestamp` may start there.
    std::optional<index_entry> before_timestamp(int64_t timestamp) const;

    // The next batch gets an entry whatever the interval says (the first batch after damaged
    // bytes, so lookups never have to hop over them).
    void entry_at_next_batch() { _bytes_since_entry = _interval_bytes; }
    // Drops entries for batches at or after `position`, on disk too.
    status truncate_from(uint32_t position);
    // Empties the index (before a rebuild).
    status clear();
    status sync() const;
    int64_t max_timestamp() const { return _max_timestamp; }
    const std::vector<index_entry>& entries() const { return _entries; }

  private:
    status write_entry(const index_entry& e);

    int64_t _segment_base;
    uint32_t _interval_bytes;
    uint32_t _bytes_since_entry = 0;
    int64_t _max_timestamp = -1;
    std::vector<index_entry> _entries;
    file _offset_file;
    file _time_file;
};

}  // namespace trib::storage
