// An answer that arrives on another thread, later, exactly once (a group coordinator's, the
// controller's), awaited by a handler on its connection's loop without holding anything.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "net/async_event.h"

namespace trib::net {

template <typename T>
struct later {
    explicit later(const asio::any_io_executor& ex)
        : event(std::make_shared<net::async_event>(ex)) {}
    std::shared_ptr<net::async_event> event;
    std::optional<T> value;
    std::atomic<bool> ready{false};

    void set(T v) {
        value = std::move(v);
        ready.store(true, std::memory_order_release);
        event->signal();
    }
    asio::awaitable<T> get() {
        while (!ready.load(std::memory_order_acquire)) {
            co_await event->wait_for(std::chrono::seconds(1));
        }
        co_return std::move(*value);
    }
};

}  // namespace trib::net
