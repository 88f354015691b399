#include "storage/flusher.h"

#include <vector>

#include "base/assert.h"

namespace trib::storage {

flusher::flusher() : _thread([this] { run(); }) {}

flusher::~flusher() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    _thread.join();
}

void flusher::add(std::shared_ptr<log> l, std::function<void()> on_flushed) {
    TRIB_ASSERT(l != nullptr);
    std::lock_guard lock(_mutex);
    const log* key = l.get();
    auto& e = _logs[key];
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

void flusher::run() {
    std::unique_lock lock(_mutex);
    std::vector<entry> ready;
    for (;;) {
        auto now = clock::now();
        bool final_pass = _stopping;
        std::optional<clock::time_point> next_due;
        for (auto& [key, e] : _logs) {
            if (e.requested || (e.due && *e.due <= now) || final_pass) {
                e.requested = false;
                e.due.reset();
                ready.push_back(e);
            } else if (e.due && (!next_due || *e.due < *next_due)) {
                next_due = e.due;
            }
        }
        if (ready.empty()) {
            if (final_pass) return;
            if (next_due) {
                _wake.wait_until(lock, *next_due);
            } else {
                _wake.wait(lock);
            }
            continue;
        }
        lock.unlock();
        // A failed sync fails that log (it logs why); waiters see it through wait_flushed.
        for (const auto& e : ready) {
            (void)e.target->flush();
            if (e.on_flushed) e.on_flushed();
        }
        ready.clear();
        lock.lock();
        if (final_pass) return;
    }
}

}  // namespace trib::storage
