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

// Whether a read returns its first batch whole when it is larger than the byte limit (so a
// reader can always progress), or nothing: Kafka's Fetch allows that only for the first
// partition of a response with data (KIP-74).
enum class first_batch { whole, within_limit };

struct batch_location {
    int64_t base_offset;
    int64_t last_offset;
    uint32_t position;
    uint32_t size;
    int64_t max_timestamp;
};

// Bytes of a segment that do not verify and are not a torn tail: below the recovery point,
// or followed by batches that verify. They are kept (never cut) and never served.
struct damaged_range {
    uint32_t position;     // the first byte that does not verify
    uint32_t size;         // up to the next batch that verifies, or to the end of the file
    int64_t first_offset;  // the offset the damaged bytes should start with
    int64_t next_offset;   // of the batch that verifies after them; -1: none does
    int64_t end_offset() const { return next_offset >= 0 ? next_offset : INT64_MAX; }
    friend bool operator==(const damaged_range&, const damaged_range&) = default;
};

// What a recovery scan found: where the file ends now, and what it cut or kept as damage.
struct scan_result {
    uint64_t valid_bytes = 0;
    bool truncated = false;  // bytes after valid_bytes were cut (a torn tail)
    uint64_t cut_bytes = 0;
    std::vector<damaged_range> damage;
};

class segment {
  public:
    static std::string file_name(int64_t base_offset, const char* suffix);
    // Base offsets of the segments in `dir` (`<20 digits>.log`), ascending.
    static result<std::vector<int64_t>> list_bases(const std::filesystem::path& dir);

    // Opens an existing segment (or creates an empty one). `recover` rescans every batch: at
    // one that does not verify, a torn tail (at or above `recovery_point` with no verifying
    // batch after it) is cut; anything else is damage, kept and skipped. Without `recover`
    // only the tail after the last index entry is read (to learn the end offset and the max
    // timestamp).
    static result<std::unique_ptr<segment>> open(const std::filesystem::path& dir,
                                                 int64_t base_offset, uint32_t index_interval,
                                                 bool recover, scan_result* scanned = nullptr,
                                                 int64_t recovery_point = 0);

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
    // (the first whole regardless when `out` is empty and `first` is whole) and lie before
    // `max_offset`. Each is CRC-checked and a corrupt one is never returned: the read stops
    // before it, or fails with corrupt_data if it is the first.
    status read(const batch_location& from, size_t max_bytes, int64_t max_offset, first_batch first,
                std::vector<uint8_t>& out, int64_t& next_offset) const;
    // Every batch in order, verified; used by timestamp lookup and compaction.
    status for_each_batch(
        uint32_t from_position,
        const std::function<bool(const batch_location&, std::span<const uint8_t>)>& visit) const;
    // Every batch's header in order, reading headers only (producer state recovery).
    status for_each_header(const std::function<void(const model::batch_header&)>& visit) const;
    // The first batch whose max timestamp is >= `timestamp`.
    result<std::optional<batch_location>> find_timestamp(int64_t timestamp) const;

    // Removes every batch at or after `offset`, which must start a batch, start a damaged
    // range (the cut is at its first byte) or be the end.
    status truncate(int64_t offset);
    // Deletes the files (the segment must not be used afterwards).
    status remove();
    const std::filesystem::path& log_path() const { return _log_path; }
    // Damage found by the recovery scan, in position order.
    const std::vector<damaged_range>& damage() const { return _damage; }

  private:
    segment(std::filesystem::path dir, int64_t base_offset, uint32_t index_interval);
    result<std::optional<batch_location>> find_header(
        uint32_t from_position,
        const std::function<bool(const batch_location&, const model::batch_header&)>& stop) const;
    result<scan_result> scan_from(uint32_t position, bool rebuild_index, bool recover,
                                  int64_t recovery_point = 0);
    // The position of the first batch after `from` that verifies and starts at or after
    // `min_offset`, with its base offset; nullopt if none.
    result<std::optional<std::pair<uint64_t, int64_t>>> next_valid_batch(uint64_t from,
                                                                         int64_t min_offset) const;
    const damaged_range* damage_at(uint64_t position) const;

    std::filesystem::path _dir;
    std::filesystem::path _log_path;
    int64_t _base_offset;
    int64_t _next_offset;
    int64_t _max_timestamp = -1;
    uint64_t _size = 0;
    bool _unsynced = false;
    std::vector<damaged_range> _damage;
    file _file;
    segment_index _index;
};

}  // namespace trib::storage
