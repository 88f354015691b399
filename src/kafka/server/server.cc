#include "kafka/server/server.h"

#include <array>
#include <chrono>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/big_endian.h"
#include "base/logging.h"

namespace trib::kafka {

namespace {

using asio::ip::tcp;
// The smallest request: api key, version, correlation id and a null client id.
constexpr int32_t min_request_bytes = 10;

struct connection_state {
    explicit connection_state(tcp::socket s)
        : socket(std::move(s)), idle_timer(socket.get_executor()) {}
    tcp::socket socket;
    asio::steady_timer idle_timer;
    std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
    bool busy = false;  // a request is being served (a long poll is not idleness)
    bool closed = false;
};

// Closes the connection once it has been idle for the timeout.
asio::awaitable<void> watch_idle(std::shared_ptr<connection_state> c,
                                 std::chrono::milliseconds timeout) {
    while (!c->closed) {
        c->idle_timer.expires_at(c->last_active + timeout);
        std::error_code ec;
        co_await c->idle_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (c->closed) co_return;
        if (!c->busy && std::chrono::steady_clock::now() - c->last_active >= timeout) {
            log::get("kafka")->debug("closing a connection idle for {} ms", timeout.count());
            std::error_code ignored;
            c->socket.shutdown(tcp::socket::shutdown_both, ignored);
            c->socket.close(ignored);
            co_return;
        }
        if (c->busy) c->last_active = std::chrono::steady_clock::now();
    }
}

}  // namespace

asio::awaitable<void> serve_connection(tcp::socket socket, broker& b) {
    auto log = log::get("kafka");
    auto c = std::make_shared<connection_state>(std::move(socket));
    std::error_code ec;
    auto peer = c->socket.remote_endpoint(ec);
    auto executor = c->socket.get_executor();
    asio::co_spawn(executor, watch_idle(c, std::chrono::milliseconds(b.config.idle_timeout_ms)),
                   asio::detached);
    std::array<uint8_t, 4> size_bytes{};
    protocol::bytes frame;
    for (;;) {
        co_await asio::async_read(c->socket, asio::buffer(size_bytes),
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        auto size = static_cast<int32_t>(big_endian::load(size_bytes.data(), 4));
        if (size < min_request_bytes || size > b.config.max_request_bytes) {
            log->info("closing connection from {}: request size {} outside [{}, {}]",
                      peer.address().to_string(), size, min_request_bytes,
                      b.config.max_request_bytes);
            break;
        }
        frame.resize(static_cast<size_t>(size));
        co_await asio::async_read(c->socket, asio::buffer(frame),
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        c->busy = true;
        c->last_active = std::chrono::steady_clock::now();
        auto parsed = protocol::parse_request(frame);
        if (!parsed) {
            log->info("closing connection from {}: malformed request header: {}",
                      peer.address().to_string(), parsed.error().message());
            break;
        }
        request_context ctx{b, *parsed, executor};
        auto result = co_await dispatch(ctx);
        if (result.close) break;
        if (result.body) {
            int16_t header_version =
                parsed->api ? protocol::response_header_version(*parsed->api, ctx.version()) : 0;
            auto wire = protocol::frame_response(parsed->header.correlation_id, header_version,
                                                 *result.body);
            co_await asio::async_write(c->socket, asio::buffer(wire),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
        }
        c->busy = false;
        c->last_active = std::chrono::steady_clock::now();
    }
    c->closed = true;
    c->idle_timer.cancel();
    c->socket.close(ec);
}

result<std::unique_ptr<server>, error> server::bind(broker& b, net::shard_pool& shards,
                                                    const std::string& host, uint16_t port,
                                                    int max_connections) {
    std::unique_ptr<server> s(new server(b));
    auto listener = net::tcp_listener::bind(
        shards, host, port, max_connections,
        [&b](tcp::socket socket, size_t) { return serve_connection(std::move(socket), b); });
    if (!listener) return unexpected(listener.error());
    s->_listener = std::move(*listener);
    return s;
}

void server::start() {
    _listener->start();
}

void server::stop() {
    _listener->close();
}

}  // namespace trib::kafka
