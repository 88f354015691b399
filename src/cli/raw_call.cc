#include "cli/raw_call.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kafka/protocol/describe_log_dirs.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/wire.h"

namespace trib::cli {

namespace {

namespace p = ::trib::kafka::protocol;

// Largest response accepted: a DescribeLogDirs of every replica of a big node fits easily.
constexpr uint32_t max_response = 64U << 20;

class socket_fd {
  public:
    explicit socket_fd(int fd) : _fd(fd) {}
    ~socket_fd() {
        if (_fd >= 0) ::close(_fd);
    }
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    int get() const { return _fd; }

  private:
    int _fd;
};

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{.fd = fd, .events = events, .revents = 0};
    return ::poll(&pfd, 1, static_cast<int>(left.count())) == 1;
}

outcome<void> send_all(int fd, std::span<const uint8_t> data,
                       std::chrono::steady_clock::time_point deadline) {
    while (!data.empty()) {
        if (!wait_for(fd, POLLOUT, deadline)) return fail("timed out sending");
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN) return fail(std::strerror(errno));
        if (n > 0) data = data.subspan(static_cast<size_t>(n));
    }
    return {};
}

outcome<void> read_all(int fd, std::span<uint8_t> into,
                       std::chrono::steady_clock::time_point deadline) {
    while (!into.empty()) {
        if (!wait_for(fd, POLLIN, deadline)) return fail("timed out waiting for the answer");
        ssize_t n = ::recv(fd, into.data(), into.size(), 0);
        if (n == 0) return fail("the broker closed the connection");
        if (n < 0 && errno != EINTR && errno != EAGAIN) return fail(std::strerror(errno));
        if (n > 0) into = into.subspan(static_cast<size_t>(n));
    }
    return {};
}

outcome<int> connect_to(const broker_info& b, std::chrono::steady_clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string port = std::to_string(b.port);
    if (int rc = ::getaddrinfo(b.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return fail(::gai_strerror(rc));
    }
    std::string why = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && wait_for(fd, POLLOUT, deadline))) {
            int err = 0;
            socklen_t len = sizeof(err);
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) {
                ::freeaddrinfo(found);
                return fd;
            }
            why = std::strerror(err);
        } else {
            why = errno == EINPROGRESS ? "timed out connecting" : std::strerror(errno);
        }
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return fail(why);
}

}  // namespace

outcome<std::vector<uint8_t>> raw_call(const broker_info& broker, int16_t api_key, int16_t version,
                                       std::span<const uint8_t> body,
                                       std::chrono::milliseconds timeout, bool flexible) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto named = [&](const failure& f) {
        return fail(
            fmt::format("broker {} ({}:{}): {}", broker.id, broker.host, broker.port, f.message));
    };
    auto fd = connect_to(broker, deadline);
    if (!fd) return named(fd.error());
    socket_fd sock(*fd);
    p::request_header header{.request_api_key = api_key,
                             .request_api_version = version,
                             .correlation_id = 1,
                             .client_id = "trib",
                             .unknown_tagged_fields = {}};
    p::bytes frame = p::frame_request(header, flexible ? 2 : 1, body);
    if (auto sent = send_all(sock.get(), frame, deadline); !sent) return named(sent.error());
    uint8_t size_bytes[4];
    if (auto got = read_all(sock.get(), size_bytes, deadline); !got) return named(got.error());
    uint32_t size = (uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                    (uint32_t{size_bytes[2]} << 8) | uint32_t{size_bytes[3]};
    if (size < 4 || size > max_response) return named({.message = "a malformed answer"});
    std::vector<uint8_t> data(size);
    if (auto got = read_all(sock.get(), data, deadline); !got) return named(got.error());
    p::reader r(data);
    if (r.read_int32() != 1) return named({.message = "an answer to another request"});
    if (flexible) {  // response header v1: its tagged fields, skipped
        uint32_t tags = r.read_tag_count();
        int64_t last = -1;
        for (uint32_t i = 0; i < tags && r.ok(); ++i) {
            uint32_t tag = 0;
            auto value = r.read_tagged_value(tag, last);
            (void)value.read_rest();
            r.finish_tagged_value(value);
        }
        if (!r.ok()) return named({.message = "a malformed answer"});
    }
    data.erase(data.begin(), data.end() - static_cast<std::ptrdiff_t>(r.remaining()));
    return data;
}

std::map<std::pair<int32_t, int32_t>, int64_t> replica_sizes(const cluster_info& c,
                                                             const std::string& topic,
                                                             std::chrono::milliseconds timeout,
                                                             std::vector<int32_t>* missing) {
    constexpr int16_t version = 1;  // the newest before flexible encoding
    std::map<std::pair<int32_t, int32_t>, int64_t> out;
    p::describe_log_dirs_request req;
    auto& t = req.topics.emplace().emplace_back();
    t.topic = topic;
    for (const topic_info& ti : c.topics) {
        if (ti.name != topic) continue;
        for (const partition_info& part : ti.partitions)
            t.partitions.push_back(part.id);
    }
    p::writer w;
    req.encode(w, version);
    for (const broker_info& b : c.brokers) {
        auto body =
            raw_call(b, p::describe_log_dirs_request::kafka_api_key, version, w.data(), timeout);
        p::describe_log_dirs_response resp;
        bool ok = body.has_value();
        if (ok) {
            p::reader r(*body);
            resp.decode(r, version);
            ok = r.ok();
        }
        if (!ok) {
            if (missing) missing->push_back(b.id);
            continue;
        }
        for (const auto& dir : resp.results) {
            if (dir.error_code != 0) continue;
            for (const auto& dt : dir.topics) {
                if (dt.name != topic) continue;
                for (const auto& part : dt.partitions)
                    out[{part.partition_index, b.id}] += part.partition_size;
            }
        }
    }
    return out;
}

}  // namespace trib::cli
