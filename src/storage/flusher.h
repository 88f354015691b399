// The group committer: one thread that makes logs durable. Callers ask for a flush (acks=all,
// Raft's "durable before it counts") and wait on log::wait_flushed; every request that arrives
// while an fdatasync runs is served by the next one, so many appends share one sync. It also
// applies each log's own policy: flush.messages unflushed messages, or flush.ms after the first
// unflushed append.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "storage/log.h"

namespace trib::storage {

class flusher {
  public:
    flusher();
    ~flusher();  // flushes every log still registered, then stops the thread
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

  private:
    using clock = std::chrono::steady_clock;
    struct entry {
        std::shared_ptr<log> target;
        std::function<void()> on_flushed;
        bool requested = false;
        std::optional<clock::time_point> due;  // flush.ms deadline of the first unflushed append
    };
    void run();

    std::mutex _mutex;
    std::condition_variable _wake;
    std::map<const log*, entry> _logs;
    bool _stopping = false;
    std::thread _thread;
};

}  // namespace trib::storage
