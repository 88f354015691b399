#include "rpc/transport.h"

#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "base/big_endian.h"
#include "base/byte_io.h"
#include "base/logging.h"

namespace trib::rpc {
namespace {

constexpr uint32_t hello_magic = 0x54524942;  // "TRIB"
constexpr uint16_t hello_version = 2;
constexpr size_t hello_prefix_bytes = 8;  // magic, version, length of the rest
constexpr size_t max_hello_body = 1024;
constexpr auto reconnect_backoff = std::chrono::milliseconds(100);
// A peer that refused our hello will refuse the next one too: ask again only this often.
constexpr auto refused_backoff = std::chrono::milliseconds(1000);
// A peer that vanished (powered off, cut off by a partition) answers nothing: connects and
// hellos get this long, and unacknowledged writes this long before the connection is
// dropped and reopened — rather than TCP's own minutes of retries after the partition heals.
constexpr auto connect_timeout = std::chrono::milliseconds(1000);
constexpr auto hello_timeout = std::chrono::milliseconds(5000);
constexpr unsigned int unacked_write_timeout_ms = 5000;

using asio::use_awaitable;
using asio::ip::tcp;

// Closes `socket` when the returned timer expires, unless it is cancelled (or destroyed)
// first.
std::unique_ptr<asio::steady_timer> close_at_deadline(asio::io_context& loop,
                                                      const std::shared_ptr<tcp::socket>& socket,
                                                      std::chrono::milliseconds after) {
    auto timer = std::make_unique<asio::steady_timer>(loop, after);
    timer->async_wait([weak = std::weak_ptr<tcp::socket>(socket)](std::error_code ec) {
        if (auto s = weak.lock(); s && !ec) {
            s->close(ec);
        }
    });
    return timer;
}

void tune(tcp::socket& socket) {
    std::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &unacked_write_timeout_ms,
                 sizeof unacked_write_timeout_ms);
}

struct hello {
    node_id from = -1;
    node_id to = -1;
    peer_address advertised;
    std::string cluster_id;
};

std::vector<uint8_t> encode_hello(const hello& h) {
    std::vector<uint8_t> body;
    byte_writer b(body);
    b.i32(h.from);
    b.i32(h.to);
    b.str(h.advertised.host);
    b.u16(h.advertised.port);
    b.str(h.cluster_id);
    std::vector<uint8_t> out;
    byte_writer w(out);
    w.u32(hello_magic);
    w.u16(hello_version);
    w.u16(static_cast<uint16_t>(body.size()));
    w.raw(body);
    return out;
}

std::optional<hello> decode_hello_body(std::span<const uint8_t> body) {
    byte_reader r(body);
    hello h;
    h.from = r.i32();
    h.to = r.i32();
    h.advertised.host = r.str();
    h.advertised.port = r.u16();
    h.cluster_id = r.str();
    if (!r.ok() || !r.done()) {
        return std::nullopt;
    }
    return h;
}

// The receiver's answer: u8 accepted (1) or refused (0), then the reason (str).
std::vector<uint8_t> encode_answer(bool accepted, const std::string& reason) {
    std::vector<uint8_t> out;
    byte_writer w(out);
    w.u8(accepted ? 1 : 0);
    w.str(reason);
    return out;
}

}  // namespace

struct transport::impl : std::enable_shared_from_this<impl> {
    struct peer {
        peer_address address;
        bool configured = false;  // given up front: its address is not taken from hellos
        std::shared_ptr<tcp::socket> socket;
        std::vector<uint8_t> queued;
        bool writing = false;
        std::string last_refusal;  // logged once until it changes
        bool unreachable = false;  // the last connect failed (a dead process refuses at once)
        // A hello named another address while the connection to this one works: either the
        // node moved and the old connection has yet to fail, or another process claims the
        // id (and is refused by the controller). Taken up only once the connection fails, so
        // a claimant cannot draw a live node's traffic away.
        std::optional<peer_address> moved_to;
    };

    static void connection_failed(peer& p) {
        if (p.moved_to) {
            p.address = *p.moved_to;
            p.moved_to.reset();
        }
    }

    asio::io_context& loop;
    node_id self;
    peer_address advertised;
    std::string cluster_id;
    std::map<node_id, peer> peers;
    std::map<std::string, peer> by_address;  // for send_to; "id@host:port"
    static constexpr size_t max_by_address = 16;
    frame_handler on_frame;
    size_t max_frame_bytes;
    size_t max_queued_bytes;
    tcp::acceptor acceptor{loop};
    std::vector<std::weak_ptr<tcp::socket>> inbound;
    transport_stats stats;
    bool stopped = false;
    std::function<void(node_id, bool)> on_reachability;

    void note_reachable(peer& p, node_id to, bool reachable) {
        if (p.unreachable == !reachable) return;
        p.unreachable = !reachable;
        if (on_reachability) on_reachability(to, reachable);
    }

    void peer_seen(node_id id, bool alive) {
        auto it = peers.find(id);
        if (it != peers.end()) note_reachable(it->second, id, alive);
    }

    impl(asio::io_context& l, identity id, frame_handler h, size_t max_frame, size_t max_queued)
        : loop(l),
          self(id.self),
          advertised(std::move(id.advertised)),
          cluster_id(std::move(id.cluster_id)),
          on_frame(std::move(h)),
          max_frame_bytes(max_frame),
          max_queued_bytes(max_queued) {}

    void send(node_id to, std::span<const uint8_t> frame) {
        auto it = peers.find(to);
        if (it == peers.end()) {
            ++stats.frames_dropped;
            return;
        }
        enqueue(it->second, to, frame, true);
    }

    // To the process at `at` claiming the id `to`, whether or not it is the one the id's
    // traffic goes to: answers to a request that named its sender's address.
    void send_to(node_id to, const peer_address& at, std::span<const uint8_t> frame) {
        auto it = peers.find(to);
        if (at.host.empty() || (it != peers.end() && it->second.address == at)) {
            send(to, frame);
            return;
        }
        std::string key = fmt::format("{}@{}:{}", to, at.host, at.port);
        if (!by_address.contains(key) && by_address.size() >= max_by_address) {
            std::erase_if(by_address, [](const auto& e) { return !e.second.writing; });
        }
        auto [entry, fresh] = by_address.try_emplace(key);
        if (fresh) entry->second.address = at;
        enqueue(entry->second, to, frame, false);
    }

    void enqueue(peer& p, node_id to, std::span<const uint8_t> frame, bool the_ids_peer) {
        if (stopped || p.queued.size() > max_queued_bytes || frame.size() > max_frame_bytes) {
            ++stats.frames_dropped;
            return;
        }
        size_t at = p.queued.size();
        p.queued.resize(at + 4 + frame.size());
        big_endian::store(p.queued.data() + at, frame.size(), 4);
        std::copy(frame.begin(), frame.end(), p.queued.begin() + static_cast<ptrdiff_t>(at + 4));
        ++stats.frames_sent;
        if (!p.writing) {
            p.writing = true;
            asio::co_spawn(loop, write_loop(shared_from_this(), &p, to, the_ids_peer),
                           asio::detached);
        }
    }

    // `p` stays valid while it is writing: peers are never erased, and the by-address ones
    // only when idle.
    static asio::awaitable<void> write_loop(std::shared_ptr<impl> self, peer* pp, node_id to,
                                            bool the_ids_peer) {
        peer& p = *pp;
        std::vector<uint8_t> buffer;
        while (!p.queued.empty() && !self->stopped) {
            std::error_code ec;
            if (!p.socket) {
                bool refused = false;
                ec = co_await self->connect(p, to, refused);
                if (the_ids_peer) self->note_reachable(p, to, !ec);
                if (ec) {
                    connection_failed(p);
                    // Unreachable: what was queued is lost (Raft resends); try again later.
                    self->stats.frames_dropped += 1;
                    p.queued.clear();
                    asio::steady_timer wait(self->loop,
                                            refused ? refused_backoff : reconnect_backoff);
                    co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
                    break;
                }
            }
            buffer.clear();
            buffer.swap(p.queued);
            co_await asio::async_write(*p.socket, asio::buffer(buffer),
                                       asio::redirect_error(use_awaitable, ec));
            ++self->stats.writes;
            if (ec) {
                if (p.socket) {
                    std::error_code ignored;
                    p.socket->close(ignored);
                    p.socket.reset();
                }
                connection_failed(p);
                ++self->stats.frames_dropped;
            }
        }
        p.writing = false;
    }

    asio::awaitable<std::error_code> connect(peer& p, node_id to, bool& refused) {
        std::error_code ec;
        tcp::resolver resolver(loop);
        auto endpoints =
            co_await resolver.async_resolve(p.address.host, std::to_string(p.address.port),
                                            asio::redirect_error(use_awaitable, ec));
        if (ec) {
            co_return ec;
        }
        auto socket = std::make_shared<tcp::socket>(loop);
        auto deadline = close_at_deadline(loop, socket, connect_timeout);
        co_await asio::async_connect(*socket, endpoints, asio::redirect_error(use_awaitable, ec));
        deadline.reset();
        if (ec) {
            co_return ec;
        }
        tune(*socket);
        auto out = encode_hello({self, to, advertised, cluster_id});
        deadline = close_at_deadline(loop, socket, hello_timeout);
        co_await asio::async_write(*socket, asio::buffer(out),
                                   asio::redirect_error(use_awaitable, ec));
        uint8_t head[3];  // accepted, reason length
        if (!ec) {
            co_await asio::async_read(*socket, asio::buffer(head),
                                      asio::redirect_error(use_awaitable, ec));
        }
        std::string reason(ec ? 0 : big_endian::load(head + 1, 2), '\0');
        if (!ec && !reason.empty()) {
            co_await asio::async_read(*socket, asio::buffer(reason),
                                      asio::redirect_error(use_awaitable, ec));
        }
        deadline.reset();
        if (ec) {
            co_return ec;
        }
        if (head[0] != 1) {
            refused = true;
            if (reason != p.last_refusal) {
                log::get("rpc")->error("node {}: node {} at {}:{} refused us: {}", self, to,
                                       p.address.host, p.address.port, reason);
                p.last_refusal = reason;
            }
            co_return make_error_code(std::errc::connection_refused);
        }
        p.last_refusal.clear();
        p.socket = std::move(socket);
        co_return ec;
    }

    // Why a hello is refused; empty when it is accepted.
    std::string check_hello(const hello& h) const {
        if (h.to != self) {
            return fmt::format(
                "this is node {}, not node {}: the nodes disagree on the controller voters or "
                "the rpc addresses",
                self, h.to);
        }
        if (h.from == self) {
            return fmt::format("node id {} is this node's own", self);
        }
        if (!h.cluster_id.empty() && !cluster_id.empty() && h.cluster_id != cluster_id) {
            return fmt::format("node {} belongs to cluster {}, this node to cluster {}", h.from,
                               h.cluster_id, cluster_id);
        }
        return {};
    }

    void learn_peer(node_id id, const peer_address& address) {
        peer& p = peers[id];
        if (p.configured) {
            return;
        }
        if (p.address == address) {
            p.moved_to.reset();  // the node at the known address said hello again
            return;
        }
        if (p.socket) {
            p.moved_to = address;
            return;
        }
        p.address = address;
        p.moved_to.reset();
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
        while (!self->stopped) {
            std::error_code ec;
            auto socket = std::make_shared<tcp::socket>(self->loop);
            co_await self->acceptor.async_accept(*socket, asio::redirect_error(use_awaitable, ec));
            if (self->stopped || ec == asio::error::operation_aborted) {
                co_return;
            }
            if (ec) {
                // Out of descriptors and the like: do not spin on the shared loop.
                asio::steady_timer wait(self->loop, reconnect_backoff);
                co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
                continue;
            }
            tune(*socket);
            std::erase_if(self->inbound, [](const auto& w) { return w.expired(); });
            self->inbound.push_back(socket);
            asio::co_spawn(self->loop, read_loop(self, socket), asio::detached);
        }
    }

    static asio::awaitable<void> read_loop(std::shared_ptr<impl> self,
                                           std::shared_ptr<tcp::socket> socket) {
        std::error_code ec;
        uint8_t prefix[hello_prefix_bytes];
        auto deadline = close_at_deadline(self->loop, socket, hello_timeout);
        co_await asio::async_read(*socket, asio::buffer(prefix),
                                  asio::redirect_error(use_awaitable, ec));
        std::optional<hello> h;
        std::string refusal;
        if (!ec) {
            size_t length = big_endian::load(prefix + 6, 2);
            if (big_endian::load(prefix, 4) != hello_magic) {
                refusal = "not a Tributary node (bad magic)";
            } else if (big_endian::load(prefix + 4, 2) != hello_version) {
                refusal = fmt::format("rpc version {} is not {}", big_endian::load(prefix + 4, 2),
                                      hello_version);
            } else if (length > max_hello_body) {
                refusal = "hello too long";
            } else {
                std::vector<uint8_t> body(length);
                co_await asio::async_read(*socket, asio::buffer(body),
                                          asio::redirect_error(use_awaitable, ec));
                if (!ec) {
                    h = decode_hello_body(body);
                    refusal = h ? self->check_hello(*h) : std::string("malformed hello");
                }
            }
        }
        if (!ec) {
            auto answer = encode_answer(refusal.empty(), refusal);
            co_await asio::async_write(*socket, asio::buffer(answer),
                                       asio::redirect_error(use_awaitable, ec));
        }
        deadline.reset();
        if (ec) {
            co_return;
        }
        if (!refusal.empty()) {
            log::get("rpc")->warn("node {}: refused a connection from node {}: {}", self->self,
                                  h ? h->from : -1, refusal);
            ++self->stats.connections_refused;
            socket->close(ec);
            co_return;
        }
        node_id from = h->from;
        self->learn_peer(from, h->advertised);
        self->peer_seen(from, true);
        std::vector<uint8_t> frame;
        while (!self->stopped) {
            uint8_t length[4];
            co_await asio::async_read(*socket, asio::buffer(length),
                                      asio::redirect_error(use_awaitable, ec));
            if (ec) {
                // Closed by the peer's side: its process ended (or closed this connection,
                // and then it reconnects at its next send and is seen again).
                if (!self->stopped &&
                    (ec == asio::error::eof || ec == asio::error::connection_reset)) {
                    self->peer_seen(from, false);
                }
                break;
            }
            size_t n = big_endian::load(length, 4);
            if (n > self->max_frame_bytes) {
                log::get("rpc")->warn("node {}: frame of {} bytes from node {} is over the limit",
                                      self->self, n, from);
                ++self->stats.connections_refused;
                break;
            }
            frame.resize(n);
            co_await asio::async_read(*socket, asio::buffer(frame),
                                      asio::redirect_error(use_awaitable, ec));
            if (ec || self->stopped) {
                break;
            }
            ++self->stats.frames_received;
            if (!self->on_frame(from, frame)) {
                log::get("rpc")->warn("node {}: malformed frame from node {}", self->self, from);
                ++self->stats.connections_refused;
                break;
            }
        }
        socket->close(ec);
    }
};

transport::transport(asio::io_context& loop, identity self,
                     const std::map<node_id, peer_address>& peers, frame_handler on_frame,
                     size_t max_frame_bytes, size_t max_queued_bytes)
    : _impl(std::make_shared<impl>(loop, std::move(self), std::move(on_frame), max_frame_bytes,
                                   max_queued_bytes)) {
    for (auto& [id, address] : peers) {
        if (id != _impl->self) {
            _impl->peers[id].address = address;
            _impl->peers[id].configured = true;
        }
    }
}

void transport::on_reachability(std::function<void(node_id, bool)> fn) {
    _impl->on_reachability = std::move(fn);
}

void transport::add_peer(node_id id, const peer_address& address) {
    if (id != _impl->self) {
        _impl->learn_peer(id, address);
    }
}

void transport::send_to(node_id to, const peer_address& at, std::span<const uint8_t> frame) {
    _impl->send_to(to, at, frame);
}

bool transport::knows(node_id id) const {
    return _impl->peers.contains(id);
}

void transport::set_cluster_id(const std::string& id) {
    _impl->cluster_id = id;
}

transport::~transport() {
    stop();
}

result<void, error> transport::listen(const std::string& host, uint16_t port) {
    std::error_code ec;
    tcp::resolver resolver(_impl->loop);
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    auto fail = [&] {
        return unexpected(
            error{ec, fmt::format("cannot listen on {}:{}: {}", host, port, ec.message())});
    };
    if (ec || endpoints.empty()) {
        return fail();
    }
    auto endpoint = endpoints.begin()->endpoint();
    _impl->acceptor.open(endpoint.protocol(), ec);
    if (!ec) _impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) _impl->acceptor.bind(endpoint, ec);
    if (!ec) _impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return fail();
    }
    asio::co_spawn(_impl->loop, impl::accept_loop(_impl), asio::detached);
    return {};
}

uint16_t transport::port() const {
    std::error_code ec;
    return _impl->acceptor.local_endpoint(ec).port();
}

void transport::send(node_id to, std::span<const uint8_t> frame) {
    _impl->send(to, frame);
}

void transport::stop() {
    _impl->stopped = true;
    std::error_code ec;
    _impl->acceptor.close(ec);
    auto close_all = [&ec](auto& peers) {
        for (auto& [key, p] : peers) {
            if (p.socket) {
                p.socket->close(ec);
            }
            p.queued.clear();
        }
    };
    close_all(_impl->peers);
    close_all(_impl->by_address);
    for (auto& weak : _impl->inbound) {
        if (auto s = weak.lock()) {
            s->close(ec);
        }
    }
    _impl->inbound.clear();
}

const transport_stats& transport::stats() const {
    return _impl->stats;
}

}  // namespace trib::rpc
