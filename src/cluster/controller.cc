#include "cluster/controller.h"

#include <future>
#include <random>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "base/thread_name.h"
#include "cluster/core/codec.h"
#include "raft/host.h"

namespace trib::cluster {

namespace {

constexpr raft::group_id controller_group = 0;
constexpr size_t max_read_bytes = 1 << 20;
constexpr auto heartbeat_timeout = std::chrono::milliseconds(3000);
constexpr int64_t register_retry_ms = 500;

uint64_t random_u64() {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) | rd();
}

}  // namespace

struct controller::loop_state {
    asio::io_context loop{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{loop.get_executor()};
    asio::steady_timer ticker{loop};
};

controller::controller(controller_config config)
    : _config(std::move(config)),
      _loop(std::make_unique<loop_state>()),
      _published(std::make_shared<const core::image>()),
      _incarnation(random_u64()) {}

controller::~controller() {
    stop();
}

result<std::unique_ptr<controller>, error> controller::open(controller_config config) {
    std::unique_ptr<controller> c(new controller(std::move(config)));
    TRIB_TRY(c->open_store());
    return c;
}

result<void, error> controller::open_store() {
    raft::host_config hc;
    hc.id = _config.self;
    hc.peers = _config.voters;
    hc.listen = _config.rpc_listen;
    hc.advertised = _config.rpc_advertised;
    hc.dir = _config.dir;
    hc.tick_ms = _config.tick_ms;
    hc.options.election_ticks = _config.election_ticks;
    hc.options.seed = _incarnation;
    hc.log_config = _config.log_config;
    hc.flush_threads = _config.flush_threads;
    _host = std::make_unique<raft::host>(_loop->loop, hc);
    raft::configuration voters;
    for (const auto& [id, address] : _config.voters) {
        voters.voters.push_back(id);
    }
    _group = TRIB_TRY(_host->add_group(controller_group, voters,
                                       [this](raft::offset_t commit) { on_commit(commit); }));
    _group->use_space_reserve();
    // The log's own voters (its latest configuration) must be the configured ones: a node
    // whose log belongs to another controller quorum would form a cluster of its own.
    if (_group->node().config().voters != voters.voters) {
        return unexpected(error{
            make_error_code(errc::invalid_request),
            fmt::format("the controller log in {} has the voters {}, but controller.voters names "
                        "{}: this data directory belongs to another cluster (give the node a "
                        "new data directory to join this one)",
                        _config.dir.string(), fmt::join(_group->node().config().voters, ","),
                        fmt::join(voters.voters, ","))});
    }
    // The image starts from the snapshot; the entries after it are applied as they are known
    // committed (a restarted node learns the commit offset from the leader).
    const raft::snapshot snap = _group->store().snapshot();
    if (snap.data) {
        auto img = core::decode_image(*snap.data);
        if (!img) {
            return unexpected(error{make_error_code(errc::storage_failure),
                                    fmt::format("the controller snapshot in {} is unusable: {}",
                                                _config.dir.string(), img.error())});
        }
        _image = std::move(*img);
    }
    _image.applied_offset = snap.last_offset;
    _caught_up_at = _group->store().last_offset();
    _applied = _image.applied_offset;
    _host->transport().set_cluster_id(_image.cluster_id);
    _host->set_rpc_handler([this](raft::node_id from, std::span<const uint8_t> payload) {
        return on_rpc(from, payload);
    });
    publish();
    return {};
}

void controller::on_apply(apply_listener listener) {
    _listeners.push_back(std::move(listener));
}

void controller::on_tick(std::function<void()> fn) {
    _tick_listeners.push_back(std::move(fn));
}

void controller::post(std::function<void()> fn) {
    asio::post(_loop->loop, [this, fn = std::move(fn)] {
        if (!_stopping) fn();
    });
}

void controller::run_and_wait(const std::function<void()>& fn) {
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(_loop->loop, [&] {
        if (!_stopping) fn();
        done.set_value();
    });
    finished.wait();
}

result<void, error> controller::start() {
    TRIB_TRY(_host->start());
    if (_config.voters.size() == 1 && is_voter()) {
        _group->node().campaign();  // alone: no need to wait out an election timeout
        _group->pump();
    }
    asio::post(_loop->loop, [this] { schedule_tick(); });
    _thread = std::thread([this] {
        name_this_thread("raft-loop");
        _loop->loop.run();
    });
    return {};
}

void controller::schedule_tick() {
    _loop->ticker.expires_after(std::chrono::milliseconds(_config.tick_ms));
    _loop->ticker.async_wait([this](std::error_code ec) {
        if (ec || _stopping) {
            return;
        }
        tick();
        schedule_tick();
    });
}

bool controller::wait_caught_up(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (_applied.load() < _caught_up_at) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

bool controller::wait_registered(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!image()->live(_config.self) ||
           image()->brokers.at(_config.self).incarnation != _incarnation) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void controller::stop(farewell how) {
    if (!_thread.joinable()) {
        return;
    }
    // A broker that says it goes is fenced at once, so clients stop being sent to it.
    std::atomic<bool> told{false};
    asio::post(_loop->loop, [this, &told, how] {
        if (!_registered || how == farewell::none) {
            told = true;
            return;
        }
        controller_request r{.kind = request_kind::broker_heartbeat, .shutting_down = true};
        r.broker.id = _config.self;
        r.broker.incarnation = _incarnation;
        handle_submit(std::move(r), steady_clock_ms() + 2000,
                      [&told](const controller_response&) { told = true; });
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!told && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    asio::post(_loop->loop, [this] {
        _stopping = true;
        _loop->ticker.cancel();
        for (auto& [id, f] : _forwarded) {
            f.reply({.code = errc::not_controller, .message = "the node is stopping"});
        }
        _forwarded.clear();
        _host->stop();
        _loop->work.reset();
        _loop->loop.stop();
    });
    _thread.join();
}

controller::image_ptr controller::image() const {
    std::lock_guard lock(_published_mutex);
    return _published;
}

void controller::publish() {
    auto img = std::make_shared<const core::image>(_image);
    {
        std::lock_guard lock(_published_mutex);
        _published = img;
    }
    _applied = _image.applied_offset;
    for (const auto& listener : _listeners) {
        listener(img);
    }
    // Answers that waited for this node to apply their change.
    while (!_apply_waiters.empty() && _apply_waiters.begin()->first <= _image.applied_offset) {
        auto fn = std::move(_apply_waiters.begin()->second);
        _apply_waiters.erase(_apply_waiters.begin());
        fn();
    }
}

void controller::on_commit(int64_t commit) {
    if (_stopping) {
        return;
    }
    const raft::snapshot snap = _group->store().snapshot();
    bool changed = false;
    if (snap.last_offset > _image.applied_offset) {
        // Installed from the leader: the image jumps to it.
        core::image img;
        if (snap.data) {
            auto decoded = core::decode_image(*snap.data);
            if (!decoded) {
                log::get("controller")
                    ->error("the controller snapshot through {} from the leader is unusable: {}",
                            snap.last_offset, decoded.error());
                return;
            }
            img = std::move(*decoded);
        }
        img.applied_offset = snap.last_offset;
        _image = std::move(img);
        fail_proposals_from(0);
        changed = true;
    }
    if (commit > _image.applied_offset) {
        apply_entries(commit);
        changed = true;
    }
    if (!changed) {
        return;
    }
    _leader = _group->node().leader();
    _host->transport().set_cluster_id(_image.cluster_id);
    std::set<raft::node_id> learners;
    for (const auto& [id, b] : _image.brokers) {
        if (!_config.voters.contains(id)) {
            learners.insert(id);
            _host->transport().add_peer(id, {b.rpc.host, b.rpc.port});
        }
    }
    _group->node().set_learners(std::move(learners));
    publish();
    if (_image.applied_offset - _group->store().snapshot().last_offset >=
        _config.snapshot_every_entries) {
        if (auto st = _group->compact(
                _image.applied_offset,
                std::make_shared<const std::vector<uint8_t>>(core::encode_image(_image)));
            !st) {
            log::get("controller")
                ->warn("cannot snapshot the controller log through {}: {}", _image.applied_offset,
                       st.error().message());
        }
    }
    _group->pump();
}

void controller::apply_entries(int64_t commit) {
    while (_image.applied_offset < commit) {
        auto entries = _group->store().entries(_image.applied_offset + 1, commit, max_read_bytes);
        if (!entries || entries->empty()) {
            log::get("controller")
                ->error("cannot read controller entries from {}: {}", _image.applied_offset + 1,
                        entries ? "none" : entries.error().message());
            return;
        }
        for (const raft::entry& e : *entries) {
            if (e.kind != raft::entry_kind::data) {
                _image.applied_offset = e.last_offset;
                fail_proposals_from(e.base_offset);
                continue;
            }
            auto commands = core::commands_of_batch(e.bytes());
            if (!commands) {
                // Every node reads the same bytes, so every node skips the same entry.
                log::get("controller")
                    ->error("controller entry at {} is unreadable and is skipped: {}",
                            e.base_offset, commands.error());
                _image.applied_offset = e.last_offset;
                fail_proposals_from(e.base_offset);
                continue;
            }
            int64_t offset = e.base_offset;
            for (const auto& cmd : *commands) {
                auto r = core::apply(_image, cmd, offset);
                answer_proposals(offset, e.term, r);
                ++offset;
            }
            _image.applied_offset = e.last_offset;
        }
    }
}

void controller::tick() {
    int64_t now = steady_clock_ms();
    for (const auto& fn : _tick_listeners) {
        fn();
    }
    _leader = _group->node().leader();
    if (leading()) {
        leader_duties(now);
    } else if (_led_term >= 0) {
        _led_term = -1;  // lost the lead: a later one starts its duties afresh
        fail_proposals_from(0);
    }
    for (auto it = _forwarded.begin(); it != _forwarded.end();) {
        if (now >= it->second.deadline_ms) {
            auto reply = std::move(it->second.reply);
            bool sent = it->second.sent_to >= 0;
            it = _forwarded.erase(it);
            reply({.code = sent ? errc::timed_out : errc::not_controller,
                   .message = sent ? "the controller leader did not answer in time"
                                   : "no controller leader is reachable"});
            continue;
        }
        raft::node_id now_leading = _group->node().leader();
        if (it->second.sent_to >= 0 && now_leading != raft::no_node &&
            now_leading != it->second.sent_to) {
            // The node it went to no longer leads: it may have taken it or not. Said at once
            // (NOT_CONTROLLER: clients ask again) rather than at the deadline.
            auto reply = std::move(it->second.reply);
            it = _forwarded.erase(it);
            reply({.code = errc::not_controller,
                   .message = "the controller leader changed while it was asked",
                   .leader = now_leading});
            continue;
        }
        if (it->second.sent_to < 0 && leading()) {
            // We became the leader while it waited: carry it out here.
            auto f = std::move(it->second);
            it = _forwarded.erase(it);
            execute(f.request, [this, reply = std::move(f.reply)](controller_response r) {
                deliver_when_applied(std::move(r), reply);
            });
            continue;
        }
        if (it->second.sent_to < 0) {
            try_forward(it->first, it->second);
        }
        ++it;
    }
    broker_duties(now);
}

void controller::submit(controller_request request, std::chrono::milliseconds timeout,
                        reply_fn reply) {
    int64_t deadline = steady_clock_ms() + timeout.count();
    asio::post(_loop->loop,
               [this, request = std::move(request), deadline, reply = std::move(reply)]() mutable {
                   if (_stopping) {
                       reply({.code = errc::not_controller, .message = "the node is stopping"});
                       return;
                   }
                   handle_submit(std::move(request), deadline, std::move(reply));
               });
}

void controller::handle_submit(controller_request request, int64_t deadline_ms, reply_fn reply) {
    if (leading()) {
        execute(request, [this, reply = std::move(reply)](controller_response r) {
            deliver_when_applied(std::move(r), reply);
        });
        return;
    }
    uint64_t id = _next_request_id++;
    auto& f = _forwarded[id];
    f.request = std::move(request);
    f.request.seen_offset = _image.applied_offset;
    f.reply = std::move(reply);
    f.deadline_ms = deadline_ms;
    try_forward(id, f);
}

void controller::try_forward(uint64_t id, forwarded& f) {
    raft::node_id leader = _group->node().leader();
    if (leader == raft::no_node && _leader_hint != raft::no_node) {
        leader = _leader_hint;
    }
    if (leader == raft::no_node && !is_voter()) {
        // A learner hears from the leader only once it is registered: until then it asks the
        // voters in turn, and one that is not the leader names it.
        auto it = _config.voters.upper_bound(_last_asked_voter);
        if (it == _config.voters.end()) {
            it = _config.voters.begin();
        }
        leader = _last_asked_voter = it->first;
    }
    if (leader == raft::no_node || leader == _config.self) {
        return;  // the next tick tries again
    }
    f.sent_to = leader;
    _host->send_rpc(leader, encode_rpc(id, f.request));
}

void controller::deliver_when_applied(controller_response response, reply_fn reply) {
    int64_t offset = response.offset;
    // Against what is published (listeners have run), not the image being applied: the
    // leader's answers come from inside apply_entries.
    if (offset <= _applied.load()) {
        reply(std::move(response));
        return;
    }
    _apply_waiters.emplace(
        offset, [response = std::move(response), reply = std::move(reply)] { reply(response); });
}

bool controller::on_rpc(core::node_id from, std::span<const uint8_t> payload) {
    auto decoded = decode_rpc(payload);
    if (!decoded) {
        log::get("controller")
            ->warn("malformed controller message from node {}: {}", from, decoded.error());
        return false;
    }
    uint64_t id = decoded->id;
    if (decoded->request) {
        const controller_request* request = &*decoded->request;
        // A broker's registration and heartbeats name its rpc address: the answer goes to the
        // process there, also when another process holds the id (it learns it is refused).
        rpc::peer_address sender;
        if (request->kind == request_kind::register_broker ||
            request->kind == request_kind::broker_heartbeat) {
            sender = {request->broker.rpc.host, request->broker.rpc.port};
        }
        if (!leading()) {
            _host->send_rpc(
                from,
                encode_rpc(id, controller_response{.code = errc::not_controller,
                                                   .message = "not the controller leader",
                                                   .leader = _group->node().leader()}),
                sender);
            return true;
        }
        auto answer = [this, from, id, sender](const controller_response& r) {
            _host->send_rpc(from, encode_rpc(id, r), sender);
        };
        if (request->seen_offset > _image.applied_offset) {
            // The asker applied entries we have not yet (a commit reaches followers before
            // our own apply, and a new leader applies only after its first commit): decide
            // once we have them.
            _apply_waiters.emplace(request->seen_offset,
                                   [this, request = *request, answer = std::move(answer)] {
                                       if (!leading()) {
                                           answer({.code = errc::not_controller,
                                                   .message = "not the controller leader",
                                                   .leader = _group->node().leader()});
                                           return;
                                       }
                                       execute(request, answer);
                                   });
            return true;
        }
        execute(*request, std::move(answer));
        return true;
    }
    controller_response& response = *decoded->response;
    auto it = _forwarded.find(id);
    if (it == _forwarded.end() || it->second.sent_to != from) {
        return true;  // late, after its deadline
    }
    if (response.code == errc::not_controller) {
        // Leadership moved or was never there: the next tick asks the one named, if any.
        _leader_hint = response.leader == from ? raft::no_node : response.leader;
        it->second.sent_to = -1;
        return true;
    }
    _leader_hint = from;
    auto reply = std::move(it->second.reply);
    _forwarded.erase(it);
    deliver_when_applied(std::move(response), std::move(reply));
    return true;
}

int64_t controller::cut_off_after_ms() const {
    // Three heartbeats missed in a row, and never less than a controller election takes.
    return std::max<int64_t>(3 * _config.heartbeat_interval_ms, 2000);
}

bool controller::cut_off(int64_t now_ms) const {
    int64_t last = _last_acknowledged_ms.load();
    return _config.voters.size() > 1 && last >= 0 && now_ms - last > cut_off_after_ms();
}

void controller::broker_duties(int64_t now) {
    if (_stopping || now < _next_broker_action_ms) {
        return;
    }
    core::broker self{.id = _config.self,
                      .kafka = _config.kafka_advertised,
                      .rpc = {_config.rpc_advertised.host, _config.rpc_advertised.port},
                      .rack = _config.rack,
                      .incarnation = _incarnation,
                      .dir_id = _config.dir_id};
    if (!_registered) {
        if (_registering) {
            return;
        }
        _registering = true;
        controller_request r{.kind = request_kind::register_broker, .broker = self};
        handle_submit(
            std::move(r), now + heartbeat_timeout.count(), [this](const controller_response& a) {
                _registering = false;
                if (a.code == errc::none) {
                    _registered = true;
                    _last_acknowledged_ms = steady_clock_ms();
                    _last_registration_error.clear();
                    log::get("controller")
                        ->info("broker {} registered incarnation={:016x}", _config.self,
                               _incarnation);
                    return;
                }
                _next_broker_action_ms = steady_clock_ms() + register_retry_ms;
                if (a.code == errc::duplicate_broker && _config.on_fatal) {
                    _config.on_fatal(a.message);
                    return;
                }
                if (a.message != _last_registration_error) {
                    log::get("controller")
                        ->info("broker {} not registered yet: {}", _config.self, a.message);
                    _last_registration_error = a.message;
                }
            });
        return;
    }
    if (_heartbeat_in_flight) {
        return;
    }
    _heartbeat_in_flight = true;
    _next_broker_action_ms = now + _config.heartbeat_interval_ms;
    controller_request r{.kind = request_kind::broker_heartbeat, .broker = self};
    handle_submit(std::move(r), now + heartbeat_timeout.count(),
                  [this](const controller_response& a) {
                      _heartbeat_in_flight = false;
                      if (a.code == errc::none) _last_acknowledged_ms = steady_clock_ms();
                      if (a.code == errc::unknown_broker) {
                          _registered = false;  // e.g. a snapshot from before we registered
                          _next_broker_action_ms = 0;
                      }
                  });
}

}  // namespace trib::cluster
