// A TCP listener: accepts connections and hands each to a shard, round-robin, as a coroutine
// on that shard's loop. Above the connection limit a new connection is closed at once (and
// logged), so a flood of clients cannot exhaust file descriptors or memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "base/error.h"
#include "base/result.h"
#include "net/shard_pool.h"

namespace trib::net {

class tcp_listener {
  public:
    using handler = std::function<asio::awaitable<void>(asio::ip::tcp::socket, size_t shard)>;

    // Binds and listens (SO_REUSEADDR) on shard 0's loop; fails with a message for operators.
    static result<std::unique_ptr<tcp_listener>, error> bind(shard_pool& shards,
                                                             const std::string& host, uint16_t port,
                                                             int max_connections,
                                                             handler on_connection);
    // Starts accepting (on shard 0).
    void start();
    // Stops accepting; call on shard 0's loop or after the loops stopped.
    void close();
    uint16_t port() const { return _port; }
    int connections() const { return _connections->load(); }

  private:
    tcp_listener(shard_pool& shards, asio::ip::tcp::acceptor acceptor, int max_connections,
                 handler on_connection);
    asio::awaitable<void> accept_loop();

    shard_pool& _shards;
    asio::ip::tcp::acceptor _acceptor;
    int _max_connections;
    handler _on_connection;
    uint16_t _port = 0;
    size_t _next_shard = 0;
    uint64_t _accept_failures = 0;  // in a row (EMFILE): logged once per burst
    std::shared_ptr<std::atomic<int>> _connections = std::make_shared<std::atomic<int>>(0);
};

}  // namespace trib::net
