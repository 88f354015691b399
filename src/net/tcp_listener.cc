#include "net/tcp_listener.h"

#include <chrono>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/logging.h"

namespace trib::net {

namespace {

error listen_error(const std::string& host, uint16_t port, const std::error_code& ec) {
    return error{ec, fmt::format("cannot listen on {}:{}: {}", host, port, ec.message())};
}

}  // namespace

tcp_listener::tcp_listener(shard_pool& shards, asio::ip::tcp::acceptor acceptor,
                           int max_connections, handler on_connection)
    : _shards(shards),
      _acceptor(std::move(acceptor)),
      _max_connections(max_connections),
      _on_connection(std::move(on_connection)) {
    _port = _acceptor.local_endpoint().port();
}

result<std::unique_ptr<tcp_listener>, error> tcp_listener::bind(shard_pool& shards,
                                                                const std::string& host,
                                                                uint16_t port, int max_connections,
                                                                handler on_connection) {
    std::error_code ec;
    asio::ip::tcp::resolver resolver(shards.loop(0));
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec || endpoints.empty()) return unexpected(listen_error(host, port, ec));
    auto endpoint = endpoints.begin()->endpoint();
    asio::ip::tcp::acceptor acceptor(shards.loop(0));
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return unexpected(listen_error(host, port, ec));
    return std::unique_ptr<tcp_listener>(
        new tcp_listener(shards, std::move(acceptor), max_connections, std::move(on_connection)));
}

void tcp_listener::start() {
    asio::co_spawn(_acceptor.get_executor(), accept_loop(), asio::detached);
}

void tcp_listener::close() {
    std::error_code ignored;
    _acceptor.close(ignored);
}

asio::awaitable<void> tcp_listener::accept_loop() {
    auto log = log::get("net");
    for (;;) {
        size_t shard = _next_shard++ % _shards.size();
        std::error_code ec;
        auto socket = co_await _acceptor.async_accept(
            _shards.loop(shard), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !_acceptor.is_open()) co_return;
        if (ec) {
            // EMFILE and friends: the pending connection stays queued, so retrying at once
            // would spin (and flood the log). Say so once per burst and back off.
            if (++_accept_failures == 1) log->warn("accept failed: {}; retrying", ec.message());
            asio::steady_timer pause(co_await asio::this_coro::executor);
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (_accept_failures > 0) {
            log->warn("accepting again after {} failed accepts", _accept_failures);
            _accept_failures = 0;
        }
        if (_connections->load() >= _max_connections) {
            // Debug only: a client hammering the limit must not flood the log.
            log->debug("connection from {} refused: {} connections is the limit",
                       socket.remote_endpoint(ec).address().to_string(), _max_connections);
            socket.close(ec);
            continue;
        }
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        ++*_connections;
        auto counter = _connections;
        asio::co_spawn(_shards.loop(shard), _on_connection(std::move(socket), shard),
                       [counter](const std::exception_ptr&) { --*counter; });
    }
}

}  // namespace trib::net
