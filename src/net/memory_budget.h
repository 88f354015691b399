// A broker-wide budget of bytes for requests being served, shared by every connection on
// every shard, so many clients pipelining large produces cannot exhaust memory together
// (Kafka's queued.max.request.bytes). A reader that does not fit waits, leaving its next
// request in the socket, until a response is written somewhere and the bytes come back.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "net/async_event.h"

namespace trib::net {

class memory_budget {
  public:
    explicit memory_budget(size_t limit) : _limit(limit) {}
    memory_budget(const memory_budget&) = delete;
    memory_budget& operator=(const memory_budget&) = delete;

    // Bytes taken from the budget, given back when destroyed.
    class units {
      public:
        units() = default;
        units(units&& o) noexcept : _budget(o._budget), _bytes(o._bytes) { o._budget = nullptr; }
        units& operator=(units&& o) noexcept;
        units(const units&) = delete;
        units& operator=(const units&) = delete;
        ~units() { reset(); }
        void reset();
        // Takes over `more` (from the same budget): one request charged as its bytes arrive.
        void merge(units&& more);
        bool acquired() const { return _budget != nullptr; }
        size_t bytes() const { return _budget ? _bytes : 0; }

      private:
        friend class memory_budget;
        units(memory_budget* b, size_t n) : _budget(b), _bytes(n) {}
        memory_budget* _budget = nullptr;
        size_t _bytes = 0;
    };

    // Takes `bytes` if they fit, or if nothing is taken at all (so one request larger than
    // the whole budget still gets served, alone). Empty units mean: wait and retry.
    units try_acquire(size_t bytes);

    // Requests are charged as their bytes arrive, so several half-read requests can each hold
    // part of the budget and wait for more: they would wait for each other forever. The
    // overdraft breaks that: one reader at a time may take bytes past the limit to finish the
    // request it is reading. Memory stays bounded by the limit plus one request.
    class overdraft {
      public:
        overdraft() = default;
        overdraft(overdraft&& o) noexcept : _budget(std::exchange(o._budget, nullptr)) {}
        overdraft& operator=(overdraft&& o) noexcept;
        overdraft(const overdraft&) = delete;
        overdraft& operator=(const overdraft&) = delete;
        ~overdraft() { reset(); }
        void reset();  // gives the overdraft back (and wakes the waiters)
        bool held() const { return _budget != nullptr; }

      private:
        friend class memory_budget;
        explicit overdraft(memory_budget* b) : _budget(b) {}
        memory_budget* _budget = nullptr;
    };
    overdraft try_overdraft();  // empty if another reader holds it
    // Takes `bytes` whether they fit or not; only with the overdraft held.
    units acquire_overdrawn(const overdraft& held, size_t bytes);
    // `event` is signalled when bytes are next given back (then forgotten).
    void add_waiter(const std::shared_ptr<async_event>& event);

    size_t in_use() const { return _in_use.load(std::memory_order_relaxed); }
    size_t limit() const { return _limit; }

  private:
    void release(size_t bytes);
    void wake_waiters();

    const size_t _limit;
    std::atomic<bool> _overdrawn{false};
    std::atomic<size_t> _in_use{0};
    std::mutex _waiters_mutex;
    std::vector<std::weak_ptr<async_event>> _waiters;
};

}  // namespace trib::net
