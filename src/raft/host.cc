#include "raft/host.h"

#include <asio/post.hpp>
#include <fmt/format.h>

#include "base/assert.h"
#include "base/logging.h"

namespace trib::raft {

namespace {

// A frame's first byte says whose it is (host.h names the others).
constexpr uint8_t raft_channel = 0;

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
    // A learner, or a voter with peers, has someone to fetch damaged data from again.
    auto repair = bootstrap.voters.size() > 1 || !bootstrap.contains(_config.id)
                      ? damage_repair::from_peers
                      : damage_repair::keep;
    auto store = log_store::open(_config.dir / fmt::format("group-{}", id), std::move(bootstrap),
                                 _config.log_config, std::nullopt, repair);
    if (!store) {
        return unexpected(store.error());
    }
    return insert_group(id, std::move(*store), 0,
                        group::observer{.committed = std::move(on_commit)});
}

result<group*, error> host::insert_group(group_id id, std::unique_ptr<log_store> store,
                                         int election_ticks, group::observer events) {
    if (_groups.contains(id)) {
        return unexpected(error{make_error_code(errc::invalid_config_change),
                                fmt::format("group {} exists", id)});
    }
    raft_options options = _config.options;
    options.id = _config.id;
    options.seed = _config.options.seed * 1'000'003 + id;
    if (election_ticks > 0) {
        options.election_ticks = election_ticks;
    }
    auto g = std::make_unique<group>(
        id, options, std::move(store), _flusher, _loop,
        [this](group_id gid, const message& m) { queue(m.to, gid, m); }, std::move(events));
    group* raw = g.get();
    _groups.emplace(id, std::move(g));
    return raw;
}

void host::remove_group(group_id id) {
    _groups.erase(id);
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
        std::vector<group_id> ids;
        ids.reserve(_groups.size());
        for (const auto& [id, g] : _groups) {
            ids.push_back(id);
        }
        for (group_id id : ids) {  // a pump may add or close groups
            if (group* g = find(id)) {
                g->tick();
                g->pump();
            }
        }
        schedule_tick();
    });
}

void host::set_handler(uint8_t channel, rpc_handler handler) {
    TRIB_ASSERT(channel != 0);
    _handlers[channel] = std::move(handler);
}

void host::send_on(uint8_t channel, node_id to, std::span<const uint8_t> payload,
                   const rpc::peer_address& at) {
    std::vector<uint8_t> frame;
    frame.reserve(payload.size() + 1);
    frame.push_back(channel);
    frame.insert(frame.end(), payload.begin(), payload.end());
    _transport.send_to(to, at, frame);
}

bool host::on_frame(node_id from, std::span<const uint8_t> whole) {
    if (whole.empty()) {
        return false;
    }
    auto frame = whole.subspan(1);
    if (whole[0] != raft_channel) {
        auto handler = _handlers.find(whole[0]);
        // A channel nobody here listens on: a malformed frame (the connection closes).
        return handler != _handlers.end() && handler->second(from, frame);
    }
    auto messages = decode_frame(frame, from, _config.id);
    if (!messages) {
        return false;
    }
    std::vector<group_id> touched;
    for (const auto& am : *messages) {
        group* g = find(am.group);
        if (g == nullptr) {
            continue;  // not (yet) ours: the sender retries
        }
        g->step(am.msg);
        if (touched.empty() || touched.back() != am.group) {
            touched.push_back(am.group);
        }
    }
    // By id: pumping the controller's group may apply a change that closes another group.
    for (group_id id : touched) {
        if (group* g = find(id)) {
            g->pump();
        }
    }
    return true;
}

void host::queue(node_id to, group_id g, const message& m) {
    std::vector<uint8_t>& buffer = _outgoing[to];
    if (buffer.empty()) {
        buffer.push_back(raft_channel);
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
