// The Kafka listener: accepts client connections onto the shards. Each connection has a
// reader coroutine that reads size-prefixed request frames and starts a handler coroutine for
// each, and a writer that sends the responses in request order as they complete (the
// protocol's pipelining rule), so an acks=all produce waiting for its fsync does not hold up
// the requests behind it. At most 64 requests or 64 MiB are in flight per connection; past
// that the reader stops reading (backpressure). Oversized or malformed frames close the
// connection; so do unknown APIs and unsupported versions. Idle connections are closed after
// the idle timeout.
#pragma once

#include <memory>

#include "base/error.h"
#include "base/result.h"
#include "kafka/server/broker.h"
#include "net/shard_pool.h"
#include "net/tcp_listener.h"

namespace trib::kafka {

class server {
  public:
    // Binds the listener; serving starts with start().
    static result<std::unique_ptr<server>, error> bind(broker& b, net::shard_pool& shards,
                                                       const std::string& host, uint16_t port,
                                                       int max_connections);
    void start();  // accepting, and the group coordinator's timers (on shard 0)
    void stop();   // stops accepting
    uint16_t port() const { return _listener->port(); }
    int connections() const { return _listener->connections(); }

  private:
    explicit server(broker& b, net::shard_pool& shards) : _broker(b), _shards(shards) {}
    broker& _broker;
    net::shard_pool& _shards;
    std::unique_ptr<net::tcp_listener> _listener;
};

// Serves one client connection until it closes (exposed for tests).
asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket, broker& b);

}  // namespace trib::kafka
