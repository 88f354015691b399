// Log compaction (cleanup.policy=compact): keep the newest record of each key.
//
// A pass maps every key in the closed segments below the cleanable offset to its newest
// offset, then rewrites those segments, in groups that fit in segment.bytes, into a work
// directory. A finished group's directory is renamed to a swap directory (the commit point)
// and then installed under the log's lock by renames alone. docs/formats/storage.md describes
// the files and how recovery finishes an interrupted swap.
#include <charconv>
#include <map>
#include <string>
#include <unordered_map>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/logging.h"
#include "model/record_batch.h"
#include "storage/errc.h"
#include "storage/log.h"

namespace trib::storage {

namespace {

namespace fs = std::filesystem;

constexpr const char* work_dir_name = ".cleaning";
constexpr std::string_view swap_prefix = ".swap-";
constexpr size_t map_entry_overhead = 64;  // rough bytes per key beyond the key itself
constexpr size_t write_buffer_bytes = size_t{1} << 20;
constexpr const char* segment_suffixes[] = {".index", ".timeindex", ".log"};  // .log last

using key_map = std::unordered_map<std::string, int64_t>;

std::string key_string(std::span<const uint8_t> key) {
    return {reinterpret_cast<const char*>(key.data()), key.size()};
}

// A swap directory replaces the segments whose base offset lies in [base, limit).
std::string swap_dir_name(int64_t base, int64_t limit) {
    return fmt::format("{}{:020d}-{:020d}", swap_prefix, base, limit);
}

bool parse_swap_dir_name(std::string_view name, int64_t& base, int64_t& limit) {
    if (!name.starts_with(swap_prefix) || name.size() != swap_prefix.size() + 41) return false;
    const char* p = name.data() + swap_prefix.size();
    auto a = std::from_chars(p, p + 20, base);
    auto b = std::from_chars(p + 21, p + 41, limit);
    return a.ec == std::errc() && a.ptr == p + 20 && p[20] == '-' && b.ec == std::errc() &&
           b.ptr == p + 41 && base < limit;
}

status fs_status(const std::error_code& ec) {
    if (ec) return unexpected(ec);
    return {};
}

// Replaces the segments with base in [base, limit) by the one in `swap_dir`. Idempotent, so
// recovery can rerun it after a crash at any step: the old files go and the new indexes move
// in (then a directory sync), and only then the new .log, whose move marks the swap done.
status install_swap(const fs::path& dir, const fs::path& swap_dir, int64_t base, int64_t limit) {
    std::error_code ec;
    auto new_log = swap_dir / segment::file_name(base, ".log");
    if (fs::exists(new_log, ec)) {
        auto bases = segment::list_bases(dir);
        if (!bases) return unexpected(bases.error());
        for (int64_t old : *bases) {
            if (old < base || old >= limit) continue;
            for (const char* suffix : segment_suffixes) {
                TRIB_TRY(io::current().remove(dir / segment::file_name(old, suffix)));
            }
        }
        for (const char* suffix : {".index", ".timeindex"}) {
            auto from = swap_dir / segment::file_name(base, suffix);
            if (fs::exists(from, ec)) {
                TRIB_TRY(io::current().rename(from, dir / segment::file_name(base, suffix)));
            }
        }
        TRIB_TRY(sync_directory(dir));
        TRIB_TRY(io::current().rename(new_log, dir / segment::file_name(base, ".log")));
    }
    TRIB_TRY(io::current().remove(swap_dir));
    return sync_directory(dir);
}

size_t max_decompressed(const log_config& config) {
    return config.max_batch_bytes * size_t{64};
}

// Adds every keyed record of `seg` to `map`; later offsets win. `map_bytes` grows by an
// estimate of the memory each new key takes.
status map_keys(const segment& seg, const log_config& config, key_map& map, size_t& map_bytes) {
    status inner;
    auto st = seg.for_each_batch(0, [&](const batch_location& loc, std::span<const uint8_t> b) {
        auto h = model::parse_batch_header(b);
        if (!h) {
            inner = errc::corrupt_data;
            return false;
        }
        if (h->is_control()) return true;
        inner = model::for_each_record(b, max_decompressed(config), [&](const auto& r) {
            if (!r.key) return;
            auto [it, inserted] =
                map.insert_or_assign(key_string(*r.key), loc.base_offset + r.offset_delta);
            if (inserted) map_bytes += r.key->size() + map_entry_overhead;
        });
        return inner.has_value();
    });
    TRIB_TRY(st);
    return inner;
}

struct batch_filter {
    const key_map& newest;
    int64_t tombstone_horizon_ms;  // tombstones in batches older than this go
    size_t max_decompressed;
    // Each idempotent producer's last batch in the closed segments (producer id -> base
    // offset): emptied, it stays as a header so the producer's sequence survives a reopen.
    const std::map<int64_t, int64_t>& last_batch_of_producer;
    bool keep_emptied;  // every emptied batch stays as a header (log::keep_emptied_batches)
};

// The bytes that replace one batch: the batch itself when every record stays, the survivors
// rebuilt with the same offsets, codec, producer fields and timestamps, or nothing.
result<std::vector<uint8_t>> filter_batch(std::span<const uint8_t> batch, const batch_filter& f,
                                          uint64_t& removed) {
    auto h = model::parse_batch_header(batch);
    if (!h) return errc::corrupt_data;
    std::vector<uint8_t> whole(batch.begin(), batch.end());
    if (h->is_control()) return whole;
    std::vector<model::record> kept;
    size_t total = 0;
    TRIB_TRY(model::for_each_record(batch, f.max_decompressed, [&](const auto& r) {
        ++total;
        if (r.key) {
            auto it = f.newest.find(key_string(*r.key));
            if (it != f.newest.end() && it->second > h->base_offset + r.offset_delta) return;
            if (!r.value && h->max_timestamp < f.tombstone_horizon_ms) return;
        }
        kept.push_back(model::owned_record(*h, r));
    }));
    removed += total - kept.size();
    if (kept.size() == total) return whole;
    if (kept.empty()) {
        auto last = f.last_batch_of_producer.find(h->producer_id);
        bool producers_last = h->producer_id >= 0 && last != f.last_batch_of_producer.end() &&
                              last->second == h->base_offset;
        if (!producers_last && !f.keep_emptied) return std::vector<uint8_t>();
    }
    model::batch_options o;
    o.base_offset = h->base_offset;
    o.codec = h->codec();
    o.producer_id = h->producer_id;
    o.producer_epoch = h->producer_epoch;
    o.base_sequence = h->base_sequence;
    o.partition_leader_epoch = h->partition_leader_epoch;
    o.transactional = h->is_transactional();
    o.last_offset_delta = h->last_offset_delta;
    if (h->log_append_time()) o.log_append_time_ms = h->max_timestamp;
    if (kept.empty()) o.empty_batch_timestamps = {h->base_timestamp, h->max_timestamp};
    return model::build_batch(o, kept);
}

// Writes the survivors of `group` as one segment in `work` (data, then indexes, all synced).
status write_group(const std::vector<std::shared_ptr<segment>>& group, const fs::path& work,
                   const batch_filter& filter, uint32_t index_interval, uint64_t& bytes_out,
                   uint64_t& removed) {
    int64_t base = group.front()->base_offset();
    auto out = file::open(work / segment::file_name(base, ".log"), true);
    if (!out) return unexpected(out.error());
    std::vector<uint8_t> pending;
    uint64_t written = 0;
    auto drain = [&]() -> status {
        TRIB_TRY(out->write_at(written, pending));
        written += pending.size();
        pending.clear();
        return {};
    };
    for (const auto& seg : group) {
        status inner;
        TRIB_TRY(seg->for_each_batch(0, [&](const batch_location&, std::span<const uint8_t> b) {
            auto kept = filter_batch(b, filter, removed);
            if (!kept) inner = unexpected(kept.error());
            if (kept) pending.insert(pending.end(), kept->begin(), kept->end());
            if (inner && pending.size() >= write_buffer_bytes) inner = drain();
            return inner.has_value();
        }));
        TRIB_TRY(inner);
    }
    TRIB_TRY(drain());
    TRIB_TRY(out->sync_data());
    bytes_out = written;
    // Opening it as a segment builds its indexes.
    auto opened = segment::open(work, base, index_interval, false);
    if (!opened) return unexpected(opened.error());
    TRIB_TRY((*opened)->sync_files());
    return sync_directory(work);
}

}  // namespace

status log::finish_interrupted_compaction(const fs::path& dir) {
    std::error_code ec;
    TRIB_TRY(io::current().remove(dir / work_dir_name));
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        int64_t base = 0;
        int64_t limit = 0;
        if (!parse_swap_dir_name(entry.path().filename().string(), base, limit)) continue;
        ::trib::log::get("storage")->warn("{}: finishing an interrupted compaction swap",
                                          entry.path().string());
        TRIB_TRY(install_swap(dir, entry.path(), base, limit));
    }
    return fs_status(ec);
}

result<bool> log::swap_in_compacted(const std::vector<std::shared_ptr<segment>>& group,
                                    const fs::path& work, uint64_t truncations_seen) {
    std::lock_guard lock(_mutex);
    auto first = std::find(_segments.begin(), _segments.end(), group.front());
    bool intact = _truncations == truncations_seen && first != _segments.end() &&
                  static_cast<size_t>(std::distance(first, _segments.end())) > group.size() &&
                  std::equal(group.begin(), group.end(), first);
    // Retention, DeleteRecords or a truncation changed these segments meanwhile: the rewrite
    // is stale and is dropped; the next pass starts over from what is there now.
    if (!intact) return false;
    auto after = first + static_cast<std::ptrdiff_t>(group.size());
    int64_t base = group.front()->base_offset();
    auto swap_dir = _dir / swap_dir_name(base, (*after)->base_offset());
    std::error_code ec;
    TRIB_TRY(io::current().rename(work, swap_dir));
    TRIB_TRY(sync_directory(_dir));  // the commit point: recovery finishes from here
    TRIB_TRY(install_swap(_dir, swap_dir, base, (*after)->base_offset()));
    auto fresh = segment::open(_dir, base, _config.index_interval_bytes, false);
    if (!fresh) return unexpected(fresh.error());
    ++_front_changes;  // the swapped segments may hold the start
    auto erased = _segments.erase(first, after);
    _segments.insert(erased, std::shared_ptr<segment>(std::move(*fresh)));
    return true;
}

double log::dirty_ratio(int64_t max_offset) const {
    std::lock_guard lock(_mutex);
    uint64_t closed = 0;
    uint64_t dirty = 0;
    for (size_t i = 0; i + 1 < _segments.size(); ++i) {
        if (_segments[i]->next_offset() > max_offset) break;
        closed += _segments[i]->size_bytes();
        if (_segments[i]->next_offset() > _cleaned_end) dirty += _segments[i]->size_bytes();
    }
    return closed == 0 ? 0.0 : static_cast<double>(dirty) / static_cast<double>(closed);
}

int64_t log::compaction_lag_limit(int64_t now_ms) const {
    std::lock_guard lock(_mutex);
    if (_config.min_compaction_lag_ms <= 0) return INT64_MAX;
    for (size_t i = 0; i + 1 < _segments.size(); ++i) {
        if (_segments[i]->max_timestamp() > now_ms - _config.min_compaction_lag_ms) {
            return _segments[i]->base_offset();
        }
    }
    return INT64_MAX;
}

bool log::compaction_overdue(int64_t now_ms, int64_t max_offset) const {
    std::lock_guard lock(_mutex);
    if (_config.max_compaction_lag_ms == INT64_MAX) return false;
    for (size_t i = 0; i + 1 < _segments.size(); ++i) {
        const auto& s = *_segments[i];
        if (s.next_offset() > max_offset) break;
        if (s.next_offset() <= _cleaned_end || s.empty()) continue;
        // The first dirty segment's first batch is its oldest record's best estimate.
        auto first = s.find(s.base_offset());
        return first && *first && (*first)->max_timestamp <= now_ms - _config.max_compaction_lag_ms;
    }
    return false;
}

result<compaction_stats> log::compact(int64_t now_ms, int64_t max_offset, size_t map_budget_bytes) {
    std::lock_guard compaction_lock(_compaction_mutex);
    std::vector<std::shared_ptr<segment>> closed;
    uint64_t truncations = 0;
    log_config cfg;  // a snapshot: set_config may change _config meanwhile
    {
        std::lock_guard lock(_mutex);
        cfg = _config;
        if (!cfg.cleanup_compact) return compaction_stats{};
        for (size_t i = 0; i + 1 < _segments.size(); ++i) {
            if (_segments[i]->next_offset() > max_offset) break;
            closed.push_back(_segments[i]);
        }
        truncations = _truncations;
    }
    // Map keys segment by segment until the budget is spent; only mapped segments are cleaned
    // (a key's newest offset may lie further on: those records stay, so that is still right).
    key_map newest;
    size_t map_bytes = 0;
    size_t mapped = 0;
    while (mapped < closed.size() && (mapped == 0 || map_bytes < map_budget_bytes)) {
        TRIB_TRY(map_keys(*closed[mapped], cfg, newest, map_bytes));
        ++mapped;
    }
    // Producers' last batches among the closed segments (immutable: no lock needed). One whose
    // producer wrote again in the active segment is kept too; a later pass drops it.
    std::map<int64_t, int64_t> last_batch_of_producer;
    for (const auto& seg : closed) {
        TRIB_TRY(seg->for_each_header([&](const model::batch_header& h) {
            if (h.producer_id >= 0) last_batch_of_producer[h.producer_id] = h.base_offset;
        }));
    }
    batch_filter filter{newest, now_ms - cfg.delete_retention_ms, max_decompressed(cfg),
                        last_batch_of_producer, _keep_emptied_batches.load()};
    compaction_stats stats;
    std::error_code ec;
    auto work = _dir / work_dir_name;
    size_t next = 0;
    while (next < mapped) {
        // A group: consecutive segments whose total fits in one segment and whose offsets fit
        // the index's 32-bit relative offsets.
        std::vector<std::shared_ptr<segment>> group{closed[next++]};
        uint64_t group_bytes = group.front()->size_bytes();
        while (next < mapped && group_bytes + closed[next]->size_bytes() <= cfg.segment_bytes &&
               closed[next]->next_offset() - group.front()->base_offset() < INT32_MAX) {
            group_bytes += closed[next]->size_bytes();
            group.push_back(closed[next++]);
        }
        TRIB_TRY(io::current().remove(work));
        fs::create_directory(work, ec);
        TRIB_TRY(fs_status(ec));
        uint64_t bytes_out = 0;
        uint64_t removed = 0;
        TRIB_TRY(write_group(group, work, filter, cfg.index_interval_bytes, bytes_out, removed));
        if (removed == 0 && group.size() == 1) continue;  // nothing to gain
        auto installed = swap_in_compacted(group, work, truncations);
        if (!installed) return unexpected(installed.error());
        if (!*installed) break;  // the log changed under us: stop this pass
        stats.segments_in += group.size();
        stats.segments_out += 1;
        stats.bytes_in += group_bytes;
        stats.bytes_out += bytes_out;
        stats.records_removed += removed;
    }
    TRIB_TRY(io::current().remove(work));
    if (next == mapped && mapped > 0) {
        std::lock_guard lock(_mutex);
        _cleaned_end = std::max(_cleaned_end, closed[mapped - 1]->next_offset());
    }
    return stats;
}

}  // namespace trib::storage
