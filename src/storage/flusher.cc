#include "storage/flusher.h"

#include <algorithm>
#include <vector>

#include "base/assert.h"
#include "base/thread_name.h"

namespace trib::storage {

flusher::flusher(size_t threads) {
    TRIB_ASSERT(threads > 0);
    for (size_t i = 0; i < threads; ++i) {
        _threads.emplace_back([this, i] {
            name_this_thread("flusher-" + std::to_string(i));
            run();
        });
    }
}

flusher::~flusher() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
        for (auto& [key, e] : _logs)
            e.requested = true;  // the final flush of each log
    }
    _wake.notify_all();
    for (auto& t : _threads)
        t.join();
}

void flusher::add(std::shared_ptr<log> l, std::function<void()> on_flushed) {
    TRIB_ASSERT(l != nullptr);
    std::lock_guard lock(_mutex);
    const log* key = l.get();
    auto& e = _logs[key];
    e.id = _next_id++;
    e.target = std::move(l);
    e.on_flushed = std::move(on_flushed);
}

void flusher::remove(const log* l) {
    std::lock_guard lock(_mutex);
    _logs.erase(l);
}

void flusher::appended(const log* l) {
    const auto& cfg = l->config();
    bool due_now = l->end_offset() - l->flushed_offset() >= cfg.flush_messages;
    std::lock_guard lock(_mutex);
    auto it = _logs.find(l);
    if (it == _logs.end()) return;  // removed meanwhile (its topic was deleted)
    if (due_now || cfg.flush_ms <= 0) {
        it->second.requested = true;
    } else if (!it->second.due && cfg.flush_ms != INT64_MAX) {
        it->second.due = clock::now() + std::chrono::milliseconds(cfg.flush_ms);
    } else {
        return;
    }
    _wake.notify_all();
}

void flusher::request(const log* l) {
    {
        std::lock_guard lock(_mutex);
        auto it = _logs.find(l);
        if (it == _logs.end()) return;  // removed meanwhile (its topic was deleted)
        it->second.requested = true;
    }
    _wake.notify_all();
}

size_t flusher::waiting() const {
    std::lock_guard lock(_mutex);
    auto now = clock::now();
    return static_cast<size_t>(std::count_if(_logs.begin(), _logs.end(), [&](const auto& kv) {
        const entry& e = kv.second;
        return !e.flushing && (e.requested || (e.due && *e.due <= now));
    }));
}

void flusher::run() {
    std::unique_lock lock(_mutex);
    for (;;) {
        auto now = clock::now();
        entry* pick = nullptr;
        std::optional<clock::time_point> next_due;
        for (auto& [key, e] : _logs) {
            if (e.flushing) continue;
            if (e.requested || (e.due && *e.due <= now)) {
                pick = &e;
                break;
            }
            if (e.due && (!next_due || *e.due < *next_due)) next_due = e.due;
        }
        if (!pick) {
            if (_stopping) return;  // every log's final flush is done or in other hands
            if (next_due) {
                _wake.wait_until(lock, *next_due);
            } else {
                _wake.wait(lock);
            }
            continue;
        }
        pick->requested = false;
        pick->due.reset();
        pick->flushing = true;
        const log* key = pick->target.get();
        uint64_t id = pick->id;
        auto target = pick->target;
        auto on_flushed = pick->on_flushed;
        lock.unlock();
        // A failed sync fails that log (it logs why); waiters see it through wait_flushed.
        (void)target->flush();
        if (on_flushed) on_flushed();
        lock.lock();
        auto it = _logs.find(key);
        if (it != _logs.end() && it->second.id == id) it->second.flushing = false;
        // A request that came during the sync may be waiting for this log to be free.
        if (it != _logs.end() && it->second.requested) _wake.notify_one();
    }
}

}  // namespace trib::storage
