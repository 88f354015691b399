// The shards: one event loop (asio::io_context) per thread, one thread per core by default.
// Each partition and each connection belongs to one shard; other shards reach it by posting
// to its loop (run_on), never by locking it.
#pragma once

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

namespace trib::net {

class shard_pool {
  public:
    explicit shard_pool(size_t shards);
    ~shard_pool();  // stops and joins
    shard_pool(const shard_pool&) = delete;
    shard_pool& operator=(const shard_pool&) = delete;

    size_t size() const { return _loops.size(); }
    asio::io_context& loop(size_t shard) { return *_loops.at(shard); }

    void start();  // one thread per loop
    void stop();   // stops every loop and joins the threads; idempotent

  private:
    std::vector<std::unique_ptr<asio::io_context>> _loops;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> _guards;
    std::vector<std::thread> _threads;
};

// Runs `fn` on `target`'s loop and resumes the caller on its own loop with the result.
template <typename Fn>
auto run_on(asio::io_context& target, Fn fn) -> asio::awaitable<decltype(fn())> {
    co_return co_await asio::co_spawn(
        target,
        [fn = std::move(fn)]() mutable -> asio::awaitable<decltype(fn())> { co_return fn(); },
        asio::use_awaitable);
}

}  // namespace trib::net
