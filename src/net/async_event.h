// A wake-up a coroutine can wait for with a timeout, signalled from any thread. Used by
// Fetch long polls (woken when a partition grows) and acks=all produces (woken when it is
// flushed). A signal that comes before the wait starts is not lost; a wait may also end early
// without one, so callers loop on their own condition and deadline. Own it by shared_ptr:
// a signal keeps it alive until the loop has handled it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

namespace trib::net {

class async_event : public std::enable_shared_from_this<async_event> {
  public:
    explicit async_event(const asio::any_io_executor& executor) : _timer(executor) {}

    // Returns when signalled (true) or when `timeout` passes (false). Clears the signal.
    asio::awaitable<bool> wait_for(std::chrono::milliseconds timeout);
    // The same, until a deadline (a request's timeout).
    asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline);
    // Thread-safe.
    void signal();

  private:
    asio::steady_timer _timer;
    std::atomic<bool> _signalled{false};
};

}  // namespace trib::net
