#include "storage/log.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "base/assert.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "model/record_batch.h"
#include "storage/errc.h"

namespace trib::storage {

namespace {

prometheus::Counter& deleted_segment_bytes() {
    static prometheus::Counter& c = metrics::counter(
        "tributary_storage_deleted_segment_bytes_total",
        "Bytes of whole segments deleted below a moved log start (retention, DeleteRecords)");
    return c;
}

constexpr const char* start_offset_file = "log_start_offset";

result<int64_t> read_start_offset(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return int64_t{0};
    auto f = file::open(path, false);
    if (!f) return unexpected(f.error());
    auto size = f->size();
    if (!size) return unexpected(size.error());
    std::string text(*size, '\0');
    TRIB_TRY(f->read_at(0, std::span(reinterpret_cast<uint8_t*>(text.data()), text.size())));
    int64_t value = 0;
    auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (err != std::errc() || value < 0) return errc::corrupt_data;
    return value;
}

}  // namespace

result<std::unique_ptr<log>> log::open(const std::filesystem::path& dir, log_config config) {
    (void)deleted_segment_bytes();  // listed at 0 from the first log on
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return unexpected(ec);
    std::unique_ptr<log> l(new log(dir, config));
    TRIB_TRY(finish_interrupted_compaction(dir));
    auto bases = segment::list_bases(dir);
    if (!bases) return unexpected(bases.error());
    auto start = read_start_offset(dir / start_offset_file);
    if (!start) return unexpected(start.error());
    auto checkpoint = recovery_point_file::open(dir);
    if (!checkpoint) return unexpected(checkpoint.error());
    auto logger = ::trib::log::get("storage");
    int64_t recovery_point = checkpoint->current().recovery_point;
    for (size_t i = 0; i < bases->size(); ++i) {
        bool active = i + 1 == bases->size();
        scan_result scanned;
        auto s = segment::open(dir, (*bases)[i], config.index_interval_bytes, active, &scanned,
                               recovery_point);
        if (!s) return unexpected(s.error());
        const auto& path = (*s)->log_path().string();
        if (scanned.truncated) {
            logger->warn(
                "{}: cut a torn tail of {} bytes at byte {} (end offset {}; recovery "
                "point {})",
                path, scanned.cut_bytes, scanned.valid_bytes, (*s)->next_offset(), recovery_point);
        }
        for (const auto& d : scanned.damage) {
            logger->error(
                "{}: DAMAGED DATA: bytes [{}, {}) do not verify; they hold offsets from {} to {} "
                "(recovery point {}); that range is never served and the log takes no appends "
                "(KAFKA_STORAGE_ERROR) until it is repaired: see `tributary salvage`",
                path, d.position, d.position + d.size, d.first_offset,
                d.next_offset >= 0 ? std::to_string(d.next_offset - 1) : std::string("the end"),
                recovery_point);
        }
        if (active) l->_damage = scanned.damage;
        l->_segments.push_back(std::move(*s));
    }
    if (l->_segments.empty()) {
        auto s = segment::open(dir, *start, config.index_interval_bytes, true);
        if (!s) return unexpected(s.error());
        l->_segments.push_back(std::move(*s));
        TRIB_TRY(sync_directory(dir));
    }
    l->_start_offset = std::max(*start, l->_segments.front()->base_offset());
    // After a process crash the page cache may hold appends that were never synced; they
    // read back like durable data. Sync once, so what survived really is on disk (Raft
    // acknowledges entries by their presence in the log).
    if (auto st = l->_segments.back()->sync_data(); !st) return unexpected(st.error());
    TRIB_TRY(sync_directory(dir));
    l->_flushed_offset = l->_segments.back()->next_offset();
    l->_reserved_end = checkpoint->current().reserved_end;
    l->_checkpoint = std::move(*checkpoint);
    // Everything is synced now: the recovery point can cover it. A damaged log keeps its
    // checkpoint as it is (salvage needs its reservation).
    if (l->_damage.empty()) {
        TRIB_TRY(l->checkpoint_if_moved(l->_flushed_offset, l->_flushed_offset, 0));
    }
    return l;
}

status log::checkpoint_if_moved(int64_t recovery_point, int64_t end, uint64_t truncations) {
    std::lock_guard lock(_checkpoint_mutex);
    if (!_checkpoint || truncations != _checkpoint_truncations) return {};
    auto current = _checkpoint->current();
    recovery_checkpoint next{std::max(current.recovery_point, recovery_point),
                             current.reserved_end};
    if (end + offset_reservation / 2 > current.reserved_end) {
        next.reserved_end = end + offset_reservation;
    }
    if (next == current) return {};
    TRIB_TRY(_checkpoint->write(next));
    _reserved_end = next.reserved_end;
    return {};
}

result<append_result> log::append(std::span<uint8_t> batch, int64_t now_ms) {
    if (batch.size() < model::batch_header_size) return errc::invalid_batch;
    std::lock_guard lock(_mutex);
    if (_failed) return errc::log_failed;
    if (!_damage.empty()) return errc::log_damaged;
    int64_t base = _segments.back()->next_offset();
    model::set_base_offset(batch, base);
    return append_locked(batch, base, now_ms);
}

result<append_result> log::append_exact(std::span<const uint8_t> batch, int64_t now_ms) {
    std::lock_guard lock(_mutex);
    if (_failed) return errc::log_failed;
    if (!_damage.empty()) return errc::log_damaged;
    auto h = model::parse_batch_header(batch);
    if (!h) return errc::invalid_batch;
    if (h->base_offset < _segments.back()->next_offset()) return errc::offset_mismatch;
    return append_locked(batch, h->base_offset, now_ms);
}

result<append_result> log::append_locked(std::span<const uint8_t> batch, int64_t base_offset,
                                         int64_t now_ms) {
    if (batch.size() > _config.max_batch_bytes) return errc::batch_too_large;
    auto h = model::verify_batch(batch);
    if (!h || h->size_bytes() != batch.size()) return errc::invalid_batch;
    TRIB_ASSERT(h->base_offset == base_offset);
    segment* active = _segments.back().get();
    bool too_big = active->size_bytes() + batch.size() > _config.segment_bytes;
    bool too_old = _active_created_ms >= 0 && now_ms - _active_created_ms >= _config.segment_ms;
    if (!active->empty() && (too_big || too_old)) {
        TRIB_TRY(roll_locked(base_offset, now_ms));
        active = _segments.back().get();
    }
    if (active->empty()) _active_created_ms = now_ms;
    // Offsets past the durable reservation are never handed out (salvage restarts there).
    if (h->last_offset() >= _reserved_end.load()) {
        if (auto st = checkpoint_if_moved(0, h->last_offset() + 1, _truncations); !st) {
            _failed = true;
            return unexpected(st.error());
        }
    }
    TRIB_TRY(active->append(batch, base_offset, h->last_offset(), h->max_timestamp));
    return append_result{base_offset, h->last_offset()};
}

// The old active segment is synced before the new one takes appends, so at any time only the
// active segment can hold unsynced data, and recovery needs to scan only it. The sync is
// unconditional: a flush racing on another thread may have claimed it and not finished yet.
status log::roll_locked(int64_t next_base, int64_t now_ms) {
    auto& old = _segments.back();
    old->take_unsynced();
    if (auto st = old->sync_files(); !st) {
        _failed = true;  // the pages' state is unknown after a failed fsync: never trust them
        return st;
    }
    auto s = segment::open(_dir, next_base, _config.index_interval_bytes, true);
    if (!s) return unexpected(s.error());
    _segments.push_back(std::move(*s));
    TRIB_TRY(sync_directory(_dir));
    _active_created_ms = now_ms;
    return {};
}

const segment* log::segment_for_locked(int64_t offset) const {
    auto it = std::upper_bound(_segments.begin(), _segments.end(), offset,
                               [](int64_t o, const auto& s) { return o < s->base_offset(); });
    if (it == _segments.begin()) return nullptr;
    return std::prev(it)->get();
}

result<read_result> log::read(int64_t offset, size_t max_bytes, int64_t max_offset,
                              first_batch first) const {
    std::lock_guard lock(_mutex);
    for (const auto& d : _damage) {
        if (offset >= d.first_offset && offset < d.end_offset()) return errc::log_damaged;
    }
    int64_t end = _segments.back()->next_offset();
    if (offset < _start_offset || offset > end) return errc::offset_out_of_range;
    read_result out{{}, offset};
    // A batch may straddle nothing: batches never span segments. Walk segments from the one
    // holding `offset` while the byte budget lasts.
    auto it = std::upper_bound(_segments.begin(), _segments.end(), offset,
                               [](int64_t o, const auto& s) { return o < s->base_offset(); });
    if (it != _segments.begin()) --it;
    for (; it != _segments.end() && out.next_offset < max_offset; ++it) {
        auto loc = (*it)->find(out.next_offset);
        if (!loc) return unexpected(loc.error());
        if (!*loc) continue;
        size_t before = out.data.size();
        size_t budget = before == 0 ? max_bytes : max_bytes - before;
        int64_t next = out.next_offset;
        TRIB_TRY((*it)->read(**loc, budget, max_offset, first, out.data, next));
        if (out.data.size() == before) break;
        out.next_offset = next;
        // Stopped inside this segment (byte budget or max_offset): the next segment must not
        // be read, or the result would skip this one's remaining batches.
        if (out.next_offset < (*it)->next_offset() || out.data.size() >= max_bytes) break;
    }
    return out;
}

status log::for_each_batch_header(
    const std::function<void(const model::batch_header&)>& visit) const {
    std::lock_guard lock(_mutex);
    for (const auto& s : _segments) {
        TRIB_TRY(s->for_each_header(visit));
    }
    return {};
}

result<std::optional<timestamp_offset>> log::offset_for_timestamp(int64_t timestamp) const {
    std::lock_guard lock(_mutex);
    for (const auto& s : _segments) {
        auto loc = s->find_timestamp(timestamp);
        if (!loc) return unexpected(loc.error());
        if (!*loc) continue;
        // The batch holds a record at or after `timestamp`; find the first such record.
        std::optional<timestamp_offset> found;
        auto st = s->for_each_batch((*loc)->position, [&](const batch_location& b,
                                                          std::span<const uint8_t> bytes) {
            auto h = model::parse_batch_header(bytes);
            if (!h) return false;
            // Records below the start offset no longer exist (DeleteRecords).
            if (h->log_append_time()) {
                int64_t first = std::max(b.base_offset, _start_offset);
                if (h->max_timestamp >= timestamp && first <= b.last_offset) {
                    found = {first, h->max_timestamp};
                }
            } else {
                auto records = model::for_each_record(
                    bytes, _config.max_batch_bytes * size_t{64}, [&](const model::record_view& r) {
                        int64_t ts = h->base_timestamp + r.timestamp_delta;
                        int64_t at = b.base_offset + r.offset_delta;
                        if (!found && ts >= timestamp && at >= _start_offset) found = {at, ts};
                    });
                if (!records) return false;
            }
            return !found;
        });
        if (!st) return unexpected(st.error());
        if (found) return found;
    }
    return std::optional<timestamp_offset>();
}

status log::truncate(int64_t offset) {
    std::lock_guard lock(_mutex);
    if (offset < _start_offset) {
        // Only the whole log may go from below the start (a Raft snapshot replaces it): from
        // the batch holding the start, which then starts the empty log.
        if (offset != first_batch_offset_locked()) return errc::offset_out_of_range;
        _start_offset = offset;
        TRIB_TRY(write_start_offset_locked());
    }
    bool damage_after = std::any_of(_damage.begin(), _damage.end(), [&](const damaged_range& d) {
        return d.first_offset >= offset;
    });
    if (offset >= _segments.back()->next_offset() && !damage_after) return {};
    ++_truncations;
    {
        // The recovery point comes down first: the offsets from `offset` on will be written
        // again, unsynced, and must count as a possibly torn tail after a crash.
        std::lock_guard checkpoint_lock(_checkpoint_mutex);
        _checkpoint_truncations = _truncations;
        auto current = _checkpoint->current();
        if (current.recovery_point > offset) {
            if (auto st = _checkpoint->write({offset, current.reserved_end}); !st) {
                _failed = true;
                return st;
            }
        }
    }
    // Whole segments at or after `offset` go; the one holding it is cut.
    while (_segments.size() > 1 && _segments.back()->base_offset() >= offset) {
        TRIB_TRY(_segments.back()->remove());
        _segments.pop_back();
    }
    if (auto st = _segments.back()->truncate(offset); !st) {
        // Past the boundary check the cut may or may not be on disk: stop until reopened.
        if (st.error() != errc::not_a_batch_boundary) _failed = true;
        return st;
    }
    TRIB_TRY(sync_directory(_dir));
    _flushed_offset = std::min(_flushed_offset, _segments.back()->next_offset());
    _damage = _segments.back()->damage();  // damage past the cut is gone with it
    return {};
}

status log::write_start_offset_locked() {
    auto text = std::to_string(_start_offset);
    return write_file_durably(
        _dir / start_offset_file,
        std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// Deletes leading segments that end at or before `below_offset`, keeping the active one;
// returns how many went.
result<size_t> log::remove_front_segments_locked(int64_t below_offset) {
    size_t removed = 0;
    while (_segments.size() > 1 && _segments[1]->base_offset() <= below_offset) {
        deleted_segment_bytes().Increment(static_cast<double>(_segments.front()->size_bytes()));
        TRIB_TRY(_segments.front()->remove());
        _segments.erase(_segments.begin());
        ++_front_changes;
        ++removed;
    }
    if (removed > 0) TRIB_TRY(sync_directory(_dir));
    return removed;
}

status log::advance_start_offset(int64_t offset) {
    std::lock_guard lock(_mutex);
    if (offset > _segments.back()->next_offset()) return errc::offset_out_of_range;
    if (offset <= _start_offset) return {};
    _start_offset = offset;
    TRIB_TRY(write_start_offset_locked());  // durable before any data goes
    TRIB_TRY(remove_front_segments_locked(offset));
    return {};
}

std::optional<int64_t> log::retention_start(int64_t now_ms) const {
    std::lock_guard lock(_mutex);
    return retention_start_locked(now_ms);
}

std::optional<int64_t> log::retention_start_locked(int64_t now_ms) const {
    if (!_config.cleanup_delete) return std::nullopt;
    uint64_t total = 0;
    for (const auto& s : _segments)
        total += s->size_bytes();
    size_t drop = 0;
    while (drop + 1 < _segments.size()) {
        const auto& s = _segments[drop];
        bool over_size = _config.retention_bytes >= 0 &&
                         total - s->size_bytes() >= static_cast<uint64_t>(_config.retention_bytes);
        // Compaction can leave a closed segment empty: it holds nothing to keep.
        bool expired = s->empty() || (_config.retention_ms >= 0 && s->max_timestamp() >= 0 &&
                                      now_ms - s->max_timestamp() > _config.retention_ms);
        if (!over_size && !expired) break;
        total -= s->size_bytes();
        ++drop;
    }
    if (drop == 0 || _segments[drop]->base_offset() <= _start_offset) return std::nullopt;
    return _segments[drop]->base_offset();
}

result<size_t> log::apply_retention(int64_t now_ms) {
    std::lock_guard lock(_mutex);
    auto start = retention_start_locked(now_ms);
    if (!start) return size_t{0};
    _start_offset = *start;
    TRIB_TRY(write_start_offset_locked());  // durable before any data goes
    return remove_front_segments_locked(*start);
}

result<int64_t> log::flush() {
    std::shared_ptr<segment> dirty;
    int64_t end = 0;
    uint64_t truncations = 0;
    {
        std::lock_guard lock(_mutex);
        if (_failed) return errc::log_failed;
        end = _segments.back()->next_offset();
        truncations = _truncations;
        if (_segments.back()->take_unsynced()) dirty = _segments.back();
    }
    // Only the active segment can be dirty (rolls sync the old one). fdatasync runs unlocked,
    // so appends continue meanwhile: they will be covered by the next flush. Its indexes are
    // not synced: recovery rebuilds the active segment's indexes anyway.
    if (dirty) {
        static prometheus::Histogram& fsync_seconds = metrics::histogram(
            "tributary_storage_fsync_duration_seconds",
            "fdatasync of a partition or Raft log's active segment", metrics::latency_buckets());
        static prometheus::Counter& fsync_errors = metrics::counter(
            "tributary_storage_fsync_errors_total", "Failed fdatasyncs (each fails its log)");
        auto started = std::chrono::steady_clock::now();
        auto st = dirty->sync_data();
        fsync_seconds.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        if (!st) fsync_errors.Increment();
        if (!st) {
            // After a failed fsync the kernel may have dropped the dirty pages and marked them
            // clean, so a retry could "succeed" over lost data (fsyncgate). The log stops
            // taking writes; reopening it recovers from what is really on disk.
            std::lock_guard lock(_mutex);
            _failed = true;
            _flushed_cv.notify_all();
            ::trib::log::get("storage")->error("{}: fsync failed ({}); the log is failed",
                                               _dir.string(), st.error().message());
            return unexpected(st.error());
        }
    }
    int64_t flushed = 0;
    int64_t end_now = 0;
    bool damaged = false;
    {
        std::lock_guard lock(_mutex);
        if (truncations == _truncations) _flushed_offset = std::max(_flushed_offset, end);
        _flushed_cv.notify_all();
        flushed = _flushed_offset;
        end_now = _segments.back()->next_offset();
        truncations = _truncations;
        damaged = !_damage.empty();
    }
    // Waiters are already woken: the checkpoint does not delay acknowledgements. It lags the
    // flushed offset by at most this one write, which recovery allows for (docs/formats).
    if (!damaged) {
        if (auto st = checkpoint_if_moved(flushed, end_now, truncations); !st) {
            std::lock_guard lock(_mutex);
            _failed = true;
            _flushed_cv.notify_all();
            ::trib::log::get("storage")->error(
                "{}: writing the recovery point failed ({}); the "
                "log is failed",
                _dir.string(), st.error().message());
            return unexpected(st.error());
        }
    }
    return flushed;
}

bool log::wait_flushed(int64_t offset, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(_mutex);
    _flushed_cv.wait_for(lock, timeout, [&] { return _failed || _flushed_offset > offset; });
    return !_failed && _flushed_offset > offset;
}

log_config log::config() const {
    std::lock_guard lock(_mutex);
    return _config;
}

void log::set_config(const log_config& config) {
    std::lock_guard lock(_mutex);
    _config = config;
}

bool log::failed() const {
    std::lock_guard lock(_mutex);
    return _failed;
}

std::vector<damaged_range> log::damage() const {
    std::lock_guard lock(_mutex);
    return _damage;
}

recovery_checkpoint log::checkpoint() const {
    std::lock_guard lock(_checkpoint_mutex);
    return _checkpoint->current();
}

int64_t log::start_offset() const {
    std::lock_guard lock(_mutex);
    return _start_offset;
}

int64_t log::first_batch_offset() const {
    std::lock_guard lock(_mutex);
    return first_batch_offset_locked();
}

int64_t log::first_batch_offset_locked() const {
    const segment* s = segment_for_locked(_start_offset);
    if (s == nullptr) return _start_offset;
    // Appends never change the answer (a batch that begins at the start later still gives
    // the start); a new start, segment or truncation may.
    auto& m = _first_batch;
    if (m.start == _start_offset && m.truncations == _truncations &&
        m.front_changes == _front_changes) {
        return m.value;
    }
    auto loc = s->find(_start_offset);
    if (!loc) return _start_offset;  // a read error: not remembered
    int64_t value = *loc ? std::min((*loc)->base_offset, _start_offset) : _start_offset;
    m = {.start = _start_offset,
         .truncations = _truncations,
         .front_changes = _front_changes,
         .value = value};
    return value;
}

int64_t log::end_offset() const {
    std::lock_guard lock(_mutex);
    return _segments.back()->next_offset();
}

int64_t log::flushed_offset() const {
    std::lock_guard lock(_mutex);
    return _flushed_offset;
}

uint64_t log::size_bytes() const {
    std::lock_guard lock(_mutex);
    uint64_t total = 0;
    for (const auto& s : _segments)
        total += s->size_bytes();
    return total;
}

size_t log::segment_count() const {
    std::lock_guard lock(_mutex);
    return _segments.size();
}

}  // namespace trib::storage
