#include "raft/host.h"

#include <asio/post.hpp>
#include <fmt/format.h>

#include "base/logging.h"

namespace trib::raft {

namespace {

// A frame's first byte says whose it is.
enum class channel : uint8_t { raft = 0, rpc = 1 };

rpc::identity identity_of(const host_config& c) {
    rpc::identity id{.self = c.id, .cluster_id = c.cluster_id};
    if (c.advertised) {
        id.advertised = *c.advertised;
    } else if (auto it = c.peers.find(c.id); it != c.peers.end()) {
        id.advertised = it->second;
    }
    return id;
}

}  // namespace

host::host(asio::io_context& loop, host_config config)
    : _loop(loop),
      _config(std::move(config)),
      _flusher(_config.flush_threads),
      _transport(
          loop, identity_of(_config), _config.peers,
          [this](node_id from, std::span<const uint8_t> frame) { return on_frame(from, frame); }),
      _ticker(loop) {}

host::~host() {
    stop();
}

result<void, error> host::start() {
    std::optional<rpc::peer_address> listen = _config.listen;
    if (auto self = _config.peers.find(_config.id); !listen && self != _config.peers.end()) {
        listen = self->second;
    }
    if (!listen) {
        return unexpected(error{make_error_code(errc::unknown_node),
                                fmt::format("node {} has no address to listen on", _config.id)});
    }
    auto listening = _transport.listen(listen->host, listen->port);
    if (!listening) {
        return listening;
    }
    schedule_tick();
    return {};
}

void host::stop() {
    if (_stopped) {
        return;
    }
    _stopped = true;
    _ticker.cancel();
    _transport.stop();
    _groups.clear();
}

result<group*, error> host::add_group(group_id id, configuration bootstrap,
                                      group::commit_fn on_commit) {
    if (_groups.contains(id)) {
        return unexpected(error{make_error_code(errc::invalid_config_change),
                                fmt::format("group {} exists", id)});
    }
    auto store = log_store::open(_config.dir / fmt::format("group-{}", id), std::move(bootstrap),
                                 _config.log_config);
    if (!store) {
        return unexpected(store.error());
    }
    raft_options options = _config.options;
    options.id = _config.id;
    options.seed = _config.options.seed * 1'000'003 + id;
    auto g = std::make_unique<group>(
        id, options, std::move(*store), _flusher, _loop,
        [this](group_id gid, const message& m) { queue(m.to, gid, m); }, std::move(on_commit));
    group* raw = g.get();
    _groups.emplace(id, std::move(g));
    return raw;
}

group* host::find(group_id id) {
    auto it = _groups.find(id);
    return it == _groups.end() ? nullptr : it->second.get();
}

void host::schedule_tick() {
    _ticker.expires_after(std::chrono::milliseconds(_config.tick_ms));
    // cancel() cannot recall a completion already queued: the token tells it we are gone.
    _ticker.async_wait([this, alive = std::weak_ptr<bool>(_alive)](std::error_code ec) {
        if (ec || !alive.lock() || _stopped) {
            return;
        }
        for (auto& [id, g] : _groups) {
            g->tick();
            g->pump();
        }
        schedule_tick();
    });
}

void host::send_rpc(node_id to, std::span<const uint8_t> payload) {
    std::vector<uint8_t> frame;
    frame.reserve(payload.size() + 1);
    frame.push_back(static_cast<uint8_t>(channel::rpc));
    frame.insert(frame.end(), payload.begin(), payload.end());
    _transport.send(to, frame);
}

bool host::on_frame(node_id from, std::span<const uint8_t> whole) {
    if (whole.empty()) {
        return false;
    }
    auto frame = whole.subspan(1);
    if (whole[0] == static_cast<uint8_t>(channel::rpc)) {
        return !_rpc_handler || _rpc_handler(from, frame);
    }
    if (whole[0] != static_cast<uint8_t>(channel::raft)) {
        return false;
    }
    auto messages = decode_frame(frame, from, _config.id);
    if (!messages) {
        return false;
    }
    std::vector<group*> touched;
    for (const auto& am : *messages) {
        group* g = find(am.group);
        if (g == nullptr) {
            continue;  // not (yet) ours: the sender retries
        }
        g->step(am.msg);
        if (touched.empty() || touched.back() != g) {
            touched.push_back(g);
        }
    }
    for (group* g : touched) {
        g->pump();
    }
    return true;
}

void host::queue(node_id to, group_id g, const message& m) {
    std::vector<uint8_t>& buffer = _outgoing[to];
    if (buffer.empty()) {
        buffer.push_back(static_cast<uint8_t>(channel::raft));
    }
    encode_message(g, m, buffer);
    if (buffer.size() >= frame_target_bytes) {
        // Split at message boundaries: a catch-up burst of many groups stays far below the
        // receiver's frame limit.
        _transport.send(to, buffer);
        buffer.clear();
    }
    if (!_flush_posted) {
        _flush_posted = true;
        asio::post(_loop, [this, alive = std::weak_ptr<bool>(_alive)] {
            if (alive.lock()) {
                flush_outgoing();
            }
        });
    }
}

void host::flush_outgoing() {
    _flush_posted = false;
    if (_stopped) {
        return;
    }
    for (auto& [to, buffer] : _outgoing) {
        if (buffer.size() > 1) {
            _transport.send(to, buffer);
            buffer.clear();
        }
        if (buffer.capacity() > frame_target_bytes) {
            buffer.shrink_to_fit();  // a burst's buffer is not kept
        }
    }
}

}  // namespace trib::raft
