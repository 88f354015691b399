// One segment of a partition log: `<base offset, 20 digits>.log` holding whole v2 record
// batches back to back, with its sparse indexes (segment_index.h). Appends go to the end;
// reads return whole batches. Not thread-safe: the owning log serialises access.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "model/record_batch.h"
#include "storage/file.h"
#include "storage/segment_index.h"

namespace trib::storage {

struct batch_location {
    int64_t base_offset;
    int64_t last_offset;
    uint32_t position;
    uint32_t size;
    int64_t max_timestamp;
};

// What a recovery scan found: the batches that verify, and where the valid prefix ends.
struct scan_result {
    uint64_t valid_bytes = 0;
    bool truncated = false;  // bytes after valid_bytes were cut (torn or corrupt tail)
};

class segment {
  public:
    static std::string file_name(int64_t base_offset, const char* suffix);
    // Base offsets of the segments in `dir` (`<20 digits>.log`), ascending.
    static result<std::vector<int64_t>> list_bases(const std::filesystem::path& dir);

    // Opens an existing segment (or creates an empty one). `recover` rescans every batch and
    // truncates at the first that does not verify; otherwise only the tail after the last
    // index entry is read (to learn the end offset and the max timestamp).
    static result<std::unique_ptr<segment>> open(const std::filesystem::path& dir,
                                                 int64_t base_offset, uint32_t index_interval,
                                                 bool recover, scan_result* scanned = nullptr);

    int64_t base_offset() const { return _base_offset; }
    int64_t next_offset() const { return _next_offset; }  // last offset + 1
    uint64_t size_bytes() const { return _size; }
    int64_t max_timestamp() const { return _max_timestamp; }
    bool empty() const { return _size == 0; }
    // Claims the duty to sync what was appended so far (returns false if nothing is pending);
    // the caller then syncs, possibly on another thread; if that fails the log is failed.
    bool take_unsynced() { return std::exchange(_unsynced, false); }
    status sync_files() const;                              // data and indexes
    status sync_data() const { return _file.sync_data(); }  // data only

    // Appends one verified batch whose base offset is already set.
    status append(std::span<const uint8_t> batch, int64_t base_offset, int64_t last_offset,
                  int64_t max_timestamp);
    // The batch containing `offset` or the first after it; nullopt past the end.
    result<std::optional<batch_location>> find(int64_t offset) const;
    // Appends to `out` the whole batches starting at `from` while they fit in `max_bytes`
    // (the first whole regardless when `out` is empty) and lie before `max_offset`. Each is
    // CRC-checked and a corrupt one is never returned: the read stops before it, or fails with
    // corrupt_data if it is the first.
    status read(const batch_location& from, size_t max_bytes, int64_t max_offset,
                std::vector<uint8_t>& out, int64_t& next_offset) const;
    // Every batch in order, verified; used by timestamp lookup and compaction.
    status for_each_batch(
        uint32_t from_position,
        const std::function<bool(const batch_location&, std::span<const uint8_t>)>& visit) const;
    // Every batch's header in order, reading headers only (producer state recovery).
    status for_each_header(const std::function<void(const model::batch_header&)>& visit) const;
    // The first batch whose max timestamp is >= `timestamp`.
    result<std::optional<batch_location>> find_timestamp(int64_t timestamp) const;

    // Removes every batch at or after `offset`, which must start a batch or be the end.
    status truncate(int64_t offset);
    // Deletes the files (the segment must not be used afterwards).
    status remove();
    const std::filesystem::path& log_path() const { return _log_path; }

  private:
    segment(std::filesystem::path dir, int64_t base_offset, uint32_t index_interval);
    result<std::optional<batch_location>> find_header(
        uint32_t from_position,
        const std::function<bool(const batch_location&, const model::batch_header&)>& stop) const;
    result<scan_result> scan_from(uint32_t position, bool rebuild_index, bool truncate_bad);

    std::filesystem::path _dir;
    std::filesystem::path _log_path;
    int64_t _base_offset;
    int64_t _next_offset;
    int64_t _max_timestamp = -1;
    uint64_t _size = 0;
    bool _unsynced = false;
    file _file;
    segment_index _index;
};

}  // namespace trib::storage
