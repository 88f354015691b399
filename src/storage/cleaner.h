// Background retention and compaction for many logs: one thread that, every interval (and on
// wake_up), applies retention to logs with cleanup.policy=delete and compacts logs with
// cleanup.policy=compact whose dirty ratio reached min.cleanable.dirty.ratio. Each log is
// cleaned only below its cleanable limit (by default its flushed offset; Raft passes its
// commit index). Appends never wait for it (log::compact holds the lock only to swap).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "storage/log.h"

namespace trib::storage {

class cleaner {
  public:
    using clock_fn = std::function<int64_t()>;  // wall-clock milliseconds
    using limit_fn = std::function<int64_t()>;  // offsets below this may be cleaned
    // Takes over retention: told where retention would start the log, its owner moves the
    // start itself (a Raft log's snapshot point must move first).
    using retention_fn = std::function<void(int64_t new_start)>;

    explicit cleaner(std::chrono::milliseconds interval, clock_fn now_ms = {});
    ~cleaner();
    cleaner(const cleaner&) = delete;
    cleaner& operator=(const cleaner&) = delete;

    void add(std::shared_ptr<log> l, limit_fn cleanable_limit = {}, retention_fn retain = {});
    void remove(const log* l);  // a pass already running on it still completes
    void wake_up();             // runs a pass now
    uint64_t passes() const;    // completed passes

  private:
    struct entry {
        std::shared_ptr<log> target;
        limit_fn cleanable_limit;
        retention_fn retain;
    };
    void run();
    void clean(const entry& e);

    std::chrono::milliseconds _interval;
    clock_fn _now_ms;
    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::map<const log*, entry> _logs;
    bool _woken = false;
    bool _stopping = false;
    uint64_t _passes = 0;
    std::thread _thread;
};

}  // namespace trib::storage
