// A partition's log: an ordered list of segments in one directory, the last one active.
// Appends assign offsets and go to the active segment, which rolls by size and by age; reads
// return whole batches; the start offset moves forward by retention and DeleteRecords; the
// end can be truncated (Raft). Durability is explicit: flush() makes everything appended so
// far durable with one fdatasync per dirty segment, and flushed_offset() says how far that
// reached. Layout and recovery: docs/formats/storage.md.
//
// Thread-safety: one owner appends, reads and truncates; flush() and wait_flushed() may run on
// other threads (the group committer), and never hold the lock during fdatasync.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "storage/recovery_point.h"
#include "storage/segment.h"

namespace trib::storage {

struct log_config {
    uint64_t segment_bytes = uint64_t{1} << 30;               // segment.bytes
    int64_t segment_ms = int64_t{7} * 24 * 3600 * 1000;       // segment.ms
    uint32_t index_interval_bytes = 4096;                     // index.interval.bytes
    uint32_t max_batch_bytes = 1024 * 1024 + 12;              // max.message.bytes
    int64_t retention_bytes = -1;                             // retention.bytes, -1: none
    int64_t retention_ms = int64_t{7} * 24 * 3600 * 1000;     // retention.ms, -1: none
    bool cleanup_delete = true;                               // cleanup.policy has delete
    bool cleanup_compact = false;                             // cleanup.policy has compact
    int64_t delete_retention_ms = int64_t{24} * 3600 * 1000;  // delete.retention.ms
    double min_cleanable_dirty_ratio = 0.5;                   // min.cleanable.dirty.ratio
    int64_t min_compaction_lag_ms = 0;                        // min.compaction.lag.ms
    int64_t max_compaction_lag_ms = INT64_MAX;                // max.compaction.lag.ms
    // When the flusher syncs on its own (besides explicit flush requests, e.g. for acks=all):
    // once this many messages are unflushed, and once the oldest unflushed append is this old.
    int64_t flush_messages = INT64_MAX;  // flush.messages
    int64_t flush_ms = 1000;             // flush.ms (Kafka's default is never)
};

struct append_result {
    int64_t base_offset;
    int64_t last_offset;
};

struct read_result {
    std::vector<uint8_t> data;  // whole batches
    int64_t next_offset;        // the offset after the last batch returned
};

// What one compaction pass did.
struct compaction_stats {
    size_t segments_in = 0;   // closed segments rewritten
    size_t segments_out = 0;  // segments that replaced them (groups are merged)
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t records_removed = 0;  // superseded records and expired tombstones
};

struct timestamp_offset {
    int64_t offset;
    int64_t timestamp;
};

// What salvage found in (and, applied, removed from) a damaged log.
struct salvage_report {
    std::filesystem::path segment;      // the file holding the damage
    std::vector<damaged_range> damage;  // what is lost
    int64_t next_offset = 0;            // where appends continue afterwards
    bool applied = false;
};

class log {
  public:
    // How far ahead of the end the recovery checkpoint reserves offsets: appends past the
    // reservation write a new checkpoint first.
    static constexpr int64_t offset_reservation = int64_t{1} << 24;

    // Opens (or creates) the log in `dir`. The active (last) segment is scanned batch by
    // batch: a torn tail above the recovery point is cut; a batch below it that does not
    // verify, or one followed by batches that do, is damage: kept, never served, and the log
    // takes no appends (log_damaged) until salvage() removes it (docs/formats/storage.md).
    // Older segments were synced when they rolled and only get their indexes checked.
    static result<std::unique_ptr<log>> open(const std::filesystem::path& dir, log_config config);

    // The operator's way out of damage: reports what salvage would lose in the log at `dir`,
    // and with `apply` rewrites the damaged segment without the damaged bytes (their offsets
    // become a gap; a damaged tail whose end is unknown ends the numbering there, and appends
    // continue at the recovery checkpoint's reserved end, so no offset is handed out twice).
    // nullopt: nothing is damaged. The log must not be open elsewhere.
    static result<std::optional<salvage_report>> salvage(const std::filesystem::path& dir,
                                                         log_config config, bool apply);

    // Appends one batch (as received: verified here), assigning it the next offsets by
    // rewriting its base offset in place.
    result<append_result> append(std::span<uint8_t> batch, int64_t now_ms);
    // Appends a batch keeping its own offsets, which must be at or after the end (followers
    // and rewrites keep the leader's offsets).
    result<append_result> append_exact(std::span<const uint8_t> batch, int64_t now_ms);

    // Whole batches from the one containing `offset`, up to `max_bytes` (the first one whole
    // even if larger, unless `first` says within_limit) and before `max_offset`.
    // offset_out_of_range below the start or past the end.
    result<read_result> read(int64_t offset, size_t max_bytes, int64_t max_offset = INT64_MAX,
                             first_batch first = first_batch::whole) const;
    // The first record whose timestamp is >= `timestamp` (ListOffsets); nullopt if none.
    result<std::optional<timestamp_offset>> offset_for_timestamp(int64_t timestamp) const;
    // Every batch header from the start, in order, reading headers only (rebuilding the
    // idempotent producers' state at open). Holds the log's lock throughout.
    status for_each_batch_header(
        const std::function<void(const model::batch_header&)>& visit) const;

    // Removes everything at `offset` and after; `offset` must start a batch or a damaged
    // range (which goes, and with it the log's damage) or be the end, at or after the start,
    // or be first_batch_offset() (then the start moves back to it).
    status truncate(int64_t offset);
    // Moves the log start offset forward (DeleteRecords, retention); whole segments below it
    // are deleted. The start offset is kept durably.
    status advance_start_offset(int64_t offset);
    // Where retention.bytes and retention.ms would start the log: the base offset of the
    // first segment kept (never past the active one), or nullopt when no segment is due.
    std::optional<int64_t> retention_start(int64_t now_ms) const;
    // Deletes the segments retention_start names at once (a log with no Raft snapshot point to
    // move first). Returns how many segments went.
    result<size_t> apply_retention(int64_t now_ms);

    // cleanup.policy=compact: rewrites the closed segments whose offsets all lie below
    // `max_offset` (the high watermark), keeping the newest record of each key and dropping
    // tombstones whose batch is older than delete.retention.ms; offsets are preserved and small
    // neighbours are merged. Runs without the log's lock except for the final swap, so appends
    // and reads go on meanwhile; the swap is crash-safe (docs/formats/storage.md). The key map is
    // bounded by `map_budget_bytes`: segments past it wait for the next pass.
    result<compaction_stats> compact(int64_t now_ms, int64_t max_offset = INT64_MAX,
                                     size_t map_budget_bytes = size_t{64} << 20);

    // The share of the closed bytes below `max_offset` that no compaction has seen yet (the
    // cleaner compacts once it reaches min.cleanable.dirty.ratio). 0 with nothing closed.
    double dirty_ratio(int64_t max_offset = INT64_MAX) const;
    // The offset below which records are old enough to compact (min.compaction.lag.ms): the
    // base of the first closed segment holding a record newer than `now_ms` - the lag.
    int64_t compaction_lag_limit(int64_t now_ms) const;
    // Whether a closed segment below `max_offset` that no compaction has seen holds a record
    // older than max.compaction.lag.ms: then the log is compacted whatever its dirty ratio.
    bool compaction_overdue(int64_t now_ms, int64_t max_offset) const;

    // Makes everything appended so far durable; returns the flushed offset reached. An fsync
    // error fails the log for good (log_failed on every later write and flush).
    result<int64_t> flush();
    // Waits until flushed_offset() > `offset` or the timeout passes; true if it did.
    // Returns false at once if the log has failed.
    bool wait_flushed(int64_t offset, std::chrono::milliseconds timeout) const;

    int64_t start_offset() const;
    // The base of the batch holding the start offset (DeleteRecords may start the log inside
    // a batch, which stays whole on disk); the start offset when nothing is there.
    int64_t first_batch_offset() const;
    int64_t end_offset() const;      // the next offset to be assigned
    int64_t flushed_offset() const;  // every offset below this is durable
    bool failed() const;
    // Damage the last open found (empty when healthy); appends fail while there is any.
    std::vector<damaged_range> damage() const;
    recovery_checkpoint checkpoint() const;
    uint64_t size_bytes() const;
    size_t segment_count() const;
    log_config config() const;
    // Takes effect for the next append, roll, flush decision and cleaning pass.
    void set_config(const log_config& config);
    // Compaction then keeps a batch it empties as a header with no records, so every offset
    // stays in some batch (a Raft log: a lagging follower is sent the batches compacted in
    // place, each with its offsets and term, and there is no hole to send).
    void keep_emptied_batches() { _keep_emptied_batches = true; }
    const std::filesystem::path& dir() const { return _dir; }

  private:
    log(std::filesystem::path dir, log_config config) : _dir(std::move(dir)), _config(config) {}
    result<append_result> append_locked(std::span<const uint8_t> batch, int64_t base_offset,
                                        int64_t now_ms);
    status roll_locked(int64_t next_base, int64_t now_ms);
    // Writes the checkpoint if it moves (under _checkpoint_mutex, never holding it while
    // taking _mutex). `truncations` is what the caller saw: a truncation since then wins.
    status checkpoint_if_moved(int64_t recovery_point, int64_t end, uint64_t truncations);
    status write_start_offset_locked();
    result<size_t> remove_front_segments_locked(int64_t below_offset);
    std::optional<int64_t> retention_start_locked(int64_t now_ms) const;
    const segment* segment_for_locked(int64_t offset) const;
    int64_t first_batch_offset_locked() const;
    // Compaction (compaction.cc).
    static status finish_interrupted_compaction(const std::filesystem::path& dir);
    // Under the lock: if `group` is still in place, commits `work` as a swap and installs it.
    result<bool> swap_in_compacted(const std::vector<std::shared_ptr<segment>>& group,
                                   const std::filesystem::path& work, uint64_t truncations_seen);

    std::filesystem::path _dir;
    log_config _config;
    std::mutex _compaction_mutex;  // one compaction at a time; taken before _mutex
    mutable std::mutex _mutex;
    mutable std::condition_variable _flushed_cv;
    std::vector<std::shared_ptr<segment>> _segments;  // ascending base offset; back is active
    int64_t _start_offset = 0;
    int64_t _flushed_offset = 0;
    int64_t _active_created_ms = -1;     // first append into the active segment
    bool _failed = false;                // an fsync failed: no more writes (fsyncgate)
    uint64_t _truncations = 0;           // bumped by truncate, so a racing flush does not overreach
    std::vector<damaged_range> _damage;  // of the active segment, found at open
    mutable std::mutex _checkpoint_mutex;  // taken after _mutex, or alone
    std::optional<recovery_point_file> _checkpoint;
    uint64_t _checkpoint_truncations = 0;   // _truncations when the checkpoint was last written
    std::atomic<int64_t> _reserved_end{0};  // what the durable checkpoint reserves
    int64_t _cleaned_end = 0;               // compaction has seen every offset below this
    uint64_t _front_changes = 0;            // bumped when leading segments go or are swapped
    // first_batch_offset's last answer (a disk read), for as long as the start, truncations
    // and leading segments stay as they were.
    struct first_batch_memo {
        int64_t start = -1;
        uint64_t truncations = 0;
        uint64_t front_changes = 0;
        int64_t value = 0;
    };
    mutable first_batch_memo _first_batch;
    std::atomic<bool> _keep_emptied_batches{false};
};

}  // namespace trib::storage
