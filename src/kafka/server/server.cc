#include "kafka/server/server.h"

#include <array>
#include <chrono>
#include <deque>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "base/big_endian.h"
#include "base/clock.h"
#include "base/logging.h"
#include "kafka/groups/group_manager.h"
#include "kafka/server/request_metrics.h"
#include "net/async_event.h"
#include "net/memory_budget.h"

namespace trib::kafka {

void connection_closing::watch(const std::shared_ptr<net::async_event>& event) {
    if (_closed) {
        event->signal();
        return;
    }
    std::erase_if(_watchers, [](const auto& w) { return w.expired(); });
    _watchers.push_back(event);
}

void connection_closing::close() {
    if (std::exchange(_closed, true)) return;
    for (auto& w : std::exchange(_watchers, {})) {
        if (auto e = w.lock()) e->signal();
    }
}

namespace {

using asio::ip::tcp;
// The smallest request: api key, version, correlation id and a null client id.
constexpr int32_t min_request_bytes = 10;

// A request's place in the connection's response order.
struct response_slot {
    bool done = false;
    bool close = false;    // the request was malformed: close after the earlier responses
    protocol::bytes head;  // size prefix and response header; empty: no response (acks=0)
    protocol::bytes body;
    size_t request_bytes;              // counts against the connection's budget until written
    net::memory_budget::units memory;  // and against the broker's, until the slot is gone
};

struct connection_state {
    explicit connection_state(tcp::socket s)
        : socket(std::move(s)),
          idle_timer(socket.get_executor()),
          read_timer(socket.get_executor()),
          response_ready(std::make_shared<net::async_event>(socket.get_executor())),
          slot_freed(std::make_shared<net::async_event>(socket.get_executor())) {}
    tcp::socket socket;
    std::string peer_host;
    asio::steady_timer idle_timer;
    asio::steady_timer read_timer;  // a request's bytes must arrive by its deadline
    connection_closing closing;
    std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
    // Requests being served, in arrival order; responses leave from the front.
    std::deque<std::shared_ptr<response_slot>> in_flight;
    size_t in_flight_bytes = 0;
    std::shared_ptr<net::async_event> response_ready;  // wakes the writer
    std::shared_ptr<net::async_event> slot_freed;      // wakes a reader held by backpressure
    bool closed = false;
};

constexpr size_t max_in_flight_requests = 64;
constexpr size_t max_in_flight_bytes = size_t{64} << 20;  // a larger single request still passes
constexpr auto wake_check = std::chrono::seconds(1);

void close_connection(connection_state& c) {
    if (c.closed) return;
    c.closed = true;
    std::error_code ignored;
    c.socket.shutdown(tcp::socket::shutdown_both, ignored);
    c.socket.close(ignored);
    c.idle_timer.cancel();
    c.read_timer.cancel();
    c.closing.close();
    c.slot_freed->signal();
}

// Closes the connection once it has been idle (no request in flight) for the timeout.
asio::awaitable<void> watch_idle(std::shared_ptr<connection_state> c,
                                 std::chrono::milliseconds timeout) {
    while (!c->closed) {
        c->idle_timer.expires_at(c->last_active + timeout);
        std::error_code ec;
        co_await c->idle_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (c->closed) co_return;
        auto now = std::chrono::steady_clock::now();
        if (!c->in_flight.empty()) {
            c->last_active = now;  // a long poll or a slow fsync is not idleness
        } else if (now - c->last_active >= timeout) {
            log::get("kafka")->debug("closing a connection idle for {} ms", timeout.count());
            close_connection(*c);
            co_return;
        }
    }
}

// Serves one request; its response takes its slot. Requests of a connection start in
// arrival order on one loop, and a handler does its appends before it first waits, so
// pipelined produces to a partition keep their order.
asio::awaitable<void> serve_request(std::shared_ptr<connection_state> c, broker& b,
                                    protocol::bytes frame, std::shared_ptr<response_slot> slot) {
    auto started = std::chrono::steady_clock::now();
    auto parsed = protocol::parse_request(frame);
    if (!parsed) {
        record_request(-1, {}, 0, true);
        log::get("kafka")->debug("closing a connection from {}: malformed request header: {}",
                                 c->peer_host, parsed.error().message());
        b.bad_input.note(bad_input::malformed_header);
        slot->close = true;
    } else {
        request_context ctx{b, *parsed, c->socket.get_executor(), c->peer_host, c->closing, frame};
        auto result = co_await dispatch(ctx);
        record_request(parsed->header.request_api_key, std::chrono::steady_clock::now() - started,
                       result.error_code, result.close);
        slot->close = result.close;
        if (result.body && !result.close) {
            int16_t header_version =
                parsed->api ? protocol::response_header_version(*parsed->api, ctx.version())
                            : int16_t{0};
            slot->body = std::move(*result.body);
            slot->head = protocol::response_frame_head(parsed->header.correlation_id,
                                                       header_version, slot->body.size());
        }
    }
    slot->done = true;
    c->response_ready->signal();
}

// Writes responses in request order as they complete; closes the connection at the end.
asio::awaitable<void> write_responses(std::shared_ptr<connection_state> c) {
    std::error_code ec;
    while (!c->closed) {
        while (!c->in_flight.empty() && c->in_flight.front()->done && !c->closed) {
            auto slot = c->in_flight.front();
            if (slot->close) {
                close_connection(*c);
                break;
            }
            if (!slot->head.empty()) {
                std::array<asio::const_buffer, 2> wire{asio::buffer(slot->head),
                                                       asio::buffer(slot->body)};
                co_await asio::async_write(c->socket, wire,
                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    close_connection(*c);
                    break;
                }
            }
            c->in_flight.pop_front();
            c->in_flight_bytes -= slot->request_bytes;
            c->last_active = std::chrono::steady_clock::now();
            c->slot_freed->signal();
        }
        if (!c->closed) {
            co_await c->response_ready->wait_for(wake_check);
        }
    }
    close_connection(*c);
}

// Takes `bytes` from the broker-wide budget, waiting (with the rest of the request left in
// the socket) while other connections hold it, or taking the budget's overdraft (held by the
// caller until its frame is read) when that is free.
asio::awaitable<net::memory_budget::units> acquire_memory(connection_state& c,
                                                          net::memory_budget& budget, size_t bytes,
                                                          net::memory_budget::overdraft& over) {
    for (int attempt = 0;; ++attempt) {
        auto units = budget.try_acquire(bytes);
        if (units.acquired() || c.closed) co_return units;
        if (!over.held()) over = budget.try_overdraft();
        if (over.held()) co_return budget.acquire_overdrawn(over, bytes);
        if (attempt % 2 == 0) {
            // Bytes or the overdraft given back before the waiter was added are caught by
            // trying once more.
            budget.add_waiter(c.slot_freed);
            continue;
        }
        co_await c.slot_freed->wait_for(wake_check);
    }
}

// Closes the connection if the frame being read is not complete by `deadline`.
void arm_read_deadline(const std::shared_ptr<connection_state>& c, broker& b,
                       std::chrono::steady_clock::time_point deadline) {
    c->read_timer.expires_at(deadline);
    c->read_timer.async_wait([c, &b](std::error_code ec) {
        if (ec || c->closed) return;  // cancelled: the frame arrived, or we wait for budget
        log::get("kafka")->debug("closing a connection from {}: a request stalled for {} ms",
                                 c->peer_host, b.config.request_read_timeout_ms);
        b.bad_input.note(bad_input::stalled_request);
        close_connection(*c);
    });
}

// Reads a request's `size` bytes, charging the broker's budget for the buffer as it grows with
// the bytes that really arrive (never for a size only claimed: a prefix alone costs nothing
// more than the first chunk). The whole frame must arrive within kafka.request_read_timeout_ms
// of its size prefix, not counting time spent waiting for budget. nullopt: closed meanwhile.
asio::awaitable<std::optional<protocol::bytes>> read_frame(std::shared_ptr<connection_state> c,
                                                           broker& b, size_t size,
                                                           net::memory_budget::units& memory) {
    constexpr size_t first_chunk = size_t{16} * 1024;
    auto timeout = std::chrono::milliseconds(b.config.request_read_timeout_ms);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    arm_read_deadline(c, b, deadline);
    protocol::bytes frame;
    net::memory_budget::overdraft overdraft;  // given back once the frame is read
    std::error_code ec;
    while (frame.size() < size && !c->closed) {
        size_t have = frame.size();
        // Grow geometrically, and at once to what the socket already holds.
        size_t want = std::max({have * 2, first_chunk, have + c->socket.available(ec)});
        want = std::min(want, size);
        auto more = b.request_memory.try_acquire(want - have);
        if (!more.acquired()) {
            c->read_timer.cancel();  // waiting for budget is not the client's stall
            auto waited_from = std::chrono::steady_clock::now();
            more = co_await acquire_memory(*c, b.request_memory, want - have, overdraft);
            if (c->closed) break;
            deadline += std::chrono::steady_clock::now() - waited_from;
            arm_read_deadline(c, b, deadline);
        }
        memory.merge(std::move(more));
        frame.reserve(want);
        frame.resize(want);
        co_await asio::async_read(c->socket, asio::buffer(frame.data() + have, want - have),
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
    }
    c->read_timer.cancel();
    if (ec || c->closed || frame.size() < size) co_return std::nullopt;
    co_return frame;
}

}  // namespace

asio::awaitable<void> serve_connection(tcp::socket socket, broker& b) {
    auto log = log::get("kafka");
    auto c = std::make_shared<connection_state>(std::move(socket));
    std::error_code ec;
    auto peer = c->socket.remote_endpoint(ec);
    if (!ec) c->peer_host = peer.address().to_string();
    auto executor = c->socket.get_executor();
    asio::co_spawn(executor, watch_idle(c, std::chrono::milliseconds(b.config.idle_timeout_ms)),
                   asio::detached);
    asio::co_spawn(executor, write_responses(c), asio::detached);
    std::array<uint8_t, 4> size_bytes{};
    while (!c->closed) {
        co_await asio::async_read(c->socket, asio::buffer(size_bytes),
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        auto size = static_cast<int32_t>(big_endian::load(size_bytes.data(), 4));
        if (size < min_request_bytes || size > b.config.max_request_bytes) {
            log->debug("closing connection from {}: request size {} outside [{}, {}]", c->peer_host,
                       size, min_request_bytes, b.config.max_request_bytes);
            b.bad_input.note(bad_input::oversized_request);
            close_connection(*c);
            break;
        }
        // Backpressure: a client that pipelines faster than we answer waits here, with its
        // next request left in the socket (and TCP's window).
        auto request_bytes = static_cast<size_t>(size);
        while (!c->closed && (c->in_flight.size() >= max_in_flight_requests ||
                              (c->in_flight_bytes > 0 &&
                               c->in_flight_bytes + request_bytes > max_in_flight_bytes))) {
            co_await c->slot_freed->wait_for(wake_check);
        }
        if (c->closed) break;
        net::memory_budget::units memory;
        auto frame = co_await read_frame(c, b, request_bytes, memory);
        if (!frame) break;
        c->last_active = std::chrono::steady_clock::now();
        auto slot = std::make_shared<response_slot>();
        slot->request_bytes = request_bytes;
        slot->memory = std::move(memory);
        c->in_flight.push_back(slot);
        c->in_flight_bytes += request_bytes;
        asio::co_spawn(executor, serve_request(c, b, std::move(*frame), slot), asio::detached);
    }
    // The client is gone (EOF or a reset), or broke the protocol: close now. Waiting for the
    // requests still in flight would let any that park (a long poll, a JoinGroup with a long
    // rebalance timeout) hold the descriptor long after anyone can read the answer; a wire
    // fuzz exhausted the descriptors that way. Parked Fetches end at once; the rest finish
    // into a closed connection.
    close_connection(*c);
    c->response_ready->signal();  // the writer sees the close now, not at its next wake check
}

result<std::unique_ptr<server>, error> server::bind(broker& b, net::shard_pool& shards,
                                                    const std::string& host, uint16_t port,
                                                    int max_connections) {
    std::unique_ptr<server> s(new server(b, shards));
    auto listener = net::tcp_listener::bind(
        shards, host, port, max_connections,
        [&b](tcp::socket socket, size_t) { return serve_connection(std::move(socket), b); });
    if (!listener) return unexpected(listener.error());
    s->_listener = std::move(*listener);
    return s;
}

namespace {

// Fires the group coordinator's deadlines when they are due (a session expires at its
// deadline, not up to a tick later): it sleeps until the next one, and is woken when a
// request sets an earlier one. At most a second apart, for the bad-input summary.
asio::awaitable<void> tick_groups(broker& b) {
    auto wake = std::make_shared<net::async_event>(co_await asio::this_coro::executor);
    b.groups->on_earlier_deadline([wake] { wake->signal(); });
    for (;;) {
        int64_t now = wall_clock_ms();
        b.groups->tick(now);
        if (auto summary = b.bad_input.take_summary(now); !summary.empty()) {
            log::get("kafka")->warn("bad input from clients in the last minute: {}", summary);
        }
        int64_t wait_ms = std::clamp<int64_t>(b.groups->next_tick() - wall_clock_ms(), 0, 1000);
        co_await wake->wait_for(std::chrono::milliseconds(wait_ms));
    }
}

}  // namespace

void server::start() {
    _listener->start();
    asio::co_spawn(_shards.loop(0), tick_groups(_broker), asio::detached);
}

void server::stop() {
    _listener->close();
}

}  // namespace trib::kafka
