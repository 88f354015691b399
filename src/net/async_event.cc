#include "net/async_event.h"

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace trib::net {

asio::awaitable<bool> async_event::wait_for(std::chrono::milliseconds timeout) {
    co_return co_await wait_until(std::chrono::steady_clock::now() + timeout);
}

asio::awaitable<bool> async_event::wait_until(std::chrono::steady_clock::time_point deadline) {
    if (_signalled.exchange(false)) co_return true;
    _timer.expires_at(deadline);
    // A signal from another thread posts the cancel to this loop, so it runs after this wait
    // has started; a signal that came just before is seen by the check after the wait.
    std::error_code cancelled_or_expired;
    co_await _timer.async_wait(asio::redirect_error(asio::use_awaitable, cancelled_or_expired));
    co_return _signalled.exchange(false);
}

void async_event::signal() {
    _signalled = true;
    asio::post(_timer.get_executor(), [self = shared_from_this()] { self->_timer.cancel(); });
}

}  // namespace trib::net
