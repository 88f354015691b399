#include "storage/cleaner.h"

#include <algorithm>
#include <vector>

#include <prometheus/counter.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "base/thread_name.h"

namespace trib::storage {

namespace {

prometheus::Counter& passes_total() {
    static prometheus::Counter& c = metrics::counter(
        "tributary_storage_cleaner_passes_total",
        "Passes of the cleaner over every log (retention, then compaction where due)");
    return c;
}

prometheus::Counter& compactions_total() {
    static prometheus::Counter& c = metrics::counter("tributary_storage_compactions_total",
                                                     "Compaction passes that rewrote segments");
    return c;
}

prometheus::Counter& reclaimed_bytes_total() {
    static prometheus::Counter& c =
        metrics::counter("tributary_storage_compaction_reclaimed_bytes_total",
                         "Bytes compaction removed from logs (segment bytes in minus out)");
    return c;
}

}  // namespace

cleaner::cleaner(std::chrono::milliseconds interval, clock_fn now_ms)
    : _interval(interval),
      _now_ms(now_ms ? std::move(now_ms) : clock_fn(wall_clock_ms)),
      _thread([this] {
          name_this_thread("cleaner");
          run();
      }) {
    // Listed at 0 from the start, as Prometheus expects of counters.
    (void)passes_total();
    (void)compactions_total();
    (void)reclaimed_bytes_total();
}

cleaner::~cleaner() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    _thread.join();
}

void cleaner::add(std::shared_ptr<log> l, limit_fn cleanable_limit, retention_fn retain) {
    TRIB_ASSERT(l != nullptr);
    const log* key = l.get();
    if (!cleanable_limit) cleanable_limit = [raw = l.get()] { return raw->flushed_offset(); };
    std::lock_guard lock(_mutex);
    _logs[key] = entry{std::move(l), std::move(cleanable_limit), std::move(retain)};
}

void cleaner::remove(const log* l) {
    std::lock_guard lock(_mutex);
    _logs.erase(l);
}

void cleaner::wake_up() {
    {
        std::lock_guard lock(_mutex);
        _woken = true;
    }
    _wake.notify_all();
}

uint64_t cleaner::passes() const {
    std::lock_guard lock(_mutex);
    return _passes;
}

void cleaner::clean(const entry& e) {
    auto& l = *e.target;
    const auto& cfg = l.config();
    int64_t now = _now_ms();
    auto log = ::trib::log::get("storage");
    if (cfg.cleanup_delete && e.retain) {
        if (auto start = l.retention_start(now)) e.retain(*start);
    } else if (cfg.cleanup_delete) {
        auto dropped = l.apply_retention(now);
        if (!dropped) {
            log->warn("{}: retention failed: {}", l.dir().string(), dropped.error().message());
        } else if (*dropped > 0) {
            log->info("{}: retention deleted {} segments", l.dir().string(), *dropped);
        }
    }
    int64_t limit = std::min(e.cleanable_limit(), l.compaction_lag_limit(now));
    if (cfg.cleanup_compact && (l.dirty_ratio(limit) >= cfg.min_cleanable_dirty_ratio ||
                                l.compaction_overdue(now, limit))) {
        auto stats = l.compact(now, limit);
        if (!stats) {
            log->warn("{}: compaction failed: {}", l.dir().string(), stats.error().message());
        } else if (stats->segments_in > 0) {
            compactions_total().Increment();
            if (stats->bytes_in > stats->bytes_out) {
                reclaimed_bytes_total().Increment(
                    static_cast<double>(stats->bytes_in - stats->bytes_out));
            }
            log->info("{}: compacted segments={}->{} bytes={}->{} records_removed={}",
                      l.dir().string(), stats->segments_in, stats->segments_out, stats->bytes_in,
                      stats->bytes_out, stats->records_removed);
        }
    }
}

void cleaner::run() {
    std::unique_lock lock(_mutex);
    std::vector<entry> work;
    while (!_stopping) {
        _wake.wait_for(lock, _interval, [&] { return _woken || _stopping; });
        if (_stopping) break;
        _woken = false;
        for (const auto& [key, e] : _logs)
            work.push_back(e);
        lock.unlock();
        for (const auto& e : work)
            clean(e);
        passes_total().Increment();
        work.clear();
        lock.lock();
        ++_passes;
        _wake.notify_all();
    }
}

}  // namespace trib::storage
