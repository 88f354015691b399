// The group committer: threads that make logs durable. Callers ask for a flush (acks=all,
// Raft's "durable before it counts") and wait on log::wait_flushed; every request that arrives
// while an fdatasync runs is served by the next one, so many appends share one sync. It also
// applies each log's own policy: flush.messages unflushed messages, or flush.ms after the first
// unflushed append. Different logs sync in parallel (one log never twice at once): disks and
// ext4's journal serve concurrent fdatasyncs together, so 8 concurrent 64 KiB syncs moved
// ~11x the bytes of one at a time here (fio, bench/RESULTS.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "storage/log.h"

namespace trib::storage {

class flusher {
  public:
    explicit flusher(size_t threads = 1);
    ~flusher();  // flushes every log still registered, then stops the threads
    flusher(const flusher&) = delete;
    flusher& operator=(const flusher&) = delete;

    // `on_flushed` (optional) runs on the flusher's thread after each flush of `l`.
    void add(std::shared_ptr<log> l, std::function<void()> on_flushed = {});
    void remove(const log* l);  // a flush already running for it still completes
    // `l` took appends: schedules a flush by its flush.messages and flush.ms settings.
    // Both calls ignore a log that is not (or no longer) registered: a request racing with
    // the deletion of its topic.
    void appended(const log* l);
    // Flushes `l` as soon as possible.
    void request(const log* l);
    // Logs whose flush is due and not yet begun (every thread busy): the queue's depth.
    size_t waiting() const;

  private:
    using clock = std::chrono::steady_clock;
    struct entry {
        uint64_t id = 0;  // tells a re-added log at the same address from the old one
        std::shared_ptr<log> target;
        std::function<void()> on_flushed;
        bool requested = false;
        bool flushing = false;                 // a thread is syncing it now
        std::optional<clock::time_point> due;  // flush.ms deadline of the first unflushed append
    };
    void run();

    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::map<const log*, entry> _logs;
    uint64_t _next_id = 1;
    bool _stopping = false;
    std::vector<std::thread> _threads;
};

}  // namespace trib::storage
