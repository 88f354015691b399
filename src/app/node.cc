#include "app/node.h"

#include <csignal>
#include <cstdlib>
#include <future>
#include <random>
#include <string_view>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include "admin/admin_server.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "cluster/controller.h"
#include "cluster/partition_manager.h"
#include "cluster/producer_ids.h"
#include "kafka/groups/group_manager.h"
#include "kafka/server/server.h"
#include "net/shard_pool.h"
#include "raft/host.h"
#include "storage/file.h"

namespace trib::app {

namespace {

sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

// Makes this run's member ids differ from every earlier run's.
std::string random_tag() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}", rd(), rd());
}

size_t shard_count(int32_t configured) {
    if (configured > 0) return static_cast<size_t>(configured);
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

void defer_shutdown_signals() {
    auto set = shutdown_signals();
    TRIB_ASSERT(pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0);
}

node::node(config cfg) : _cfg(std::move(cfg)) {}

node::~node() {
    if (_admin) _admin->stop();  // it reads the partitions and the controller
    // Loops first: the listener belongs to shard 0's loop and is closed once it is still.
    if (_shards) _shards->stop();
    if (_server) _server->stop();
    // Waiting group requests hold timers of the loops: release them while the loops exist.
    _groups_open = false;
    if (_groups) _groups->abandon_waiters();
    _serving = false;
    if (_controller) _controller->stop();
}

namespace {

// Waits for a controller answer (at start, before the Kafka side serves anything).
cluster::controller_response ask_and_wait(cluster::controller& c, cluster::controller_request r,
                                          std::chrono::milliseconds timeout) {
    std::promise<cluster::controller_response> answer;
    auto got = answer.get_future();
    c.submit(std::move(r), timeout,
             [&answer](cluster::controller_response a) { answer.set_value(std::move(a)); });
    return got.get();
}

bool shutdown_requested() {
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
}

}  // namespace

result<void, error> node::wait_for_controller() {
    auto log = log::get("app");
    auto since = std::chrono::steady_clock::now();
    while (!_controller->wait_caught_up(std::chrono::milliseconds(200)) ||
           !_controller->wait_registered(std::chrono::milliseconds(200))) {
        if (shutdown_requested()) {
            std::lock_guard lock(_fatal_mutex);
            if (!_fatal.empty()) {
                return unexpected(error{make_error_code(cluster::errc::duplicate_broker), _fatal});
            }
            return unexpected(error{std::make_error_code(std::errc::interrupted),
                                    "stopped while waiting for the controller"});
        }
        if (std::chrono::steady_clock::now() - since > std::chrono::seconds(10)) {
            log->warn(
                "waiting for a controller quorum to learn what this node served before "
                "and to register this broker (controller.voters: is a majority of them "
                "up?)");
            since = std::chrono::steady_clock::now();
        }
    }
    return {};
}

result<void, error> node::upgrade_single_node_metadata() {
    auto legacy = TRIB_TRY(cluster::partition_manager::read_legacy(_cfg.data_dir));
    if (!legacy) return {};
    auto log = log::get("app");
    int64_t next_producer_id =
        TRIB_TRY(cluster::producer_id_allocator::read_legacy_next(_cfg.data_dir));
    // Each step is safe to repeat: an upgrade cut short by a crash runs again at the next
    // start, and metadata.json is retired only once everything is in the controller log.
    auto fail = [](const std::string& what, const cluster::controller_response& r) {
        return unexpected(error{make_error_code(r.code),
                                fmt::format("upgrading metadata.json: {}: {}", what, r.message)});
    };
    auto ask = [&](const cluster::controller_request& r) {
        for (;;) {
            auto a = ask_and_wait(*_controller, r, std::chrono::seconds(10));
            if (a.code != cluster::errc::not_controller && a.code != cluster::errc::timed_out) {
                return a;
            }
            if (shutdown_requested()) return a;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    };
    for (const auto& t : legacy->topics) {
        cluster::controller_request r{.kind = cluster::request_kind::create_topic,
                                      .topic = t.name,
                                      .configs = t.configs,
                                      .keep_topic_id = t.id};
        // The data is here: every partition stays on this node.
        r.assignment.assign(static_cast<size_t>(t.partitions), {_cfg.node_id});
        auto a = ask(r);
        if (a.code != cluster::errc::none && a.code != cluster::errc::topic_exists) {
            return fail("topic " + t.name, a);
        }
    }
    if (next_producer_id > 0) {
        auto img = _controller->image();
        if (img->next_producer_id < next_producer_id) {
            cluster::controller_request r{
                .kind = cluster::request_kind::allocate_producer_ids,
                .count = static_cast<int32_t>(next_producer_id - img->next_producer_id)};
            r.broker.id = _cfg.node_id;
            if (auto a = ask(r); a.code != cluster::errc::none) return fail("producer ids", a);
        }
    }
    TRIB_TRY(cluster::partition_manager::retire_legacy(_cfg.data_dir));
    log->info(
        "upgraded the single-node metadata.json into the controller log: {} topics, "
        "cluster id {}",
        legacy->topics.size(), legacy->cluster_id);
    return {};
}

result<void, error> node::start() {
    _data_dir = TRIB_TRY(open_data_dir(_cfg.data_dir, _cfg.node_id));
    if (auto reserved = storage::set_space_reserve(_cfg.data_dir / "space_reserve",
                                                   static_cast<uint64_t>(_cfg.disk_reserve_bytes));
        !reserved) {
        // A full disk at start: the node runs, and takes the reserve once there is room.
        log::get("app")->warn("cannot reserve {} bytes of disk space: {}", _cfg.disk_reserve_bytes,
                              reserved.error().message());
    }
    cluster::topic_defaults defaults;
    defaults.segment_bytes = _cfg.segment_bytes;
    defaults.retention_ms = _cfg.retention_ms;
    defaults.retention_bytes = _cfg.retention_bytes;
    defaults.max_message_bytes = _cfg.max_message_bytes;
    defaults.flush_ms = _cfg.flush_ms;
    _partitions = TRIB_TRY(cluster::partition_manager::open(
        _cfg.data_dir, defaults, std::chrono::milliseconds(_cfg.cleaner_interval_ms)));

    auto legacy = TRIB_TRY(cluster::partition_manager::read_legacy(_cfg.data_dir));
    cluster::controller_config cc;
    cc.self = _cfg.node_id;
    auto rpc = _cfg.rpc_address();
    for (const auto& [id, address] : _cfg.controller_voters) {
        cc.voters[id] = {address.host, address.port};
    }
    if (cc.voters.empty()) cc.voters[_cfg.node_id] = {rpc.host, rpc.port};  // alone
    cc.rpc_listen = {_cfg.rpc_listen.host, _cfg.rpc_listen.port};
    cc.rpc_advertised = {rpc.host, rpc.port};
    cc.kafka_advertised = {_cfg.advertised().host, _cfg.advertised().port};
    cc.rack = _cfg.rack;
    cc.dir_id = TRIB_TRY(data_dir_id(_cfg.data_dir));
    cc.dir = _cfg.data_dir / "controller";
    cc.heartbeat_interval_ms = _cfg.broker_heartbeat_interval_ms;
    cc.session_timeout_ms = _cfg.broker_session_timeout_ms;
    cc.default_partitions = _cfg.default_partitions;
    cc.default_replication_factor = static_cast<int16_t>(_cfg.default_replication_factor);
    cc.initial_cluster_id = legacy ? legacy->cluster_id : "";
    cc.log_config.segment_bytes = 64 << 20;
    cc.flush_threads = static_cast<size_t>(_cfg.flush_threads);  // every Raft group's
    cc.on_fatal = [this](const std::string& why) {
        log::get("app")->error("stopping: {}", why);
        {
            std::lock_guard lock(_fatal_mutex);
            _fatal = why;
        }
        ::kill(::getpid(), SIGTERM);  // run_until_signal stops, and reports why
    };
    _controller = TRIB_TRY(cluster::controller::open(std::move(cc)));
    // The partitions' Raft groups share the controller's loop and transport.
    raft::host& host = _controller->raft_host();
    _partitions->bind(
        {.host = &host,
         .post = [c = _controller.get()](std::function<void()> fn) { c->post(std::move(fn)); },
         .self = _cfg.node_id,
         .tick_ms = 100,
         .election_ticks = static_cast<int>(_cfg.partition_election_timeout_ms / 100),
         .replica_lag_max_ms = _cfg.replica_lag_max_ms,
         .preferred_leader_check_ms =
             _cfg.auto_leader_rebalance ? _cfg.leader_rebalance_check_ms : 0,
         .finish_move =
             [c = _controller.get()](const std::string& topic, int32_t index,
                                     std::vector<int32_t> target) {
                 c->submit({.kind = cluster::request_kind::finish_reassignment,
                            .topic = topic,
                            .partitions = index,
                            .assignment = {std::move(target)}},
                           std::chrono::seconds(5), [](const cluster::controller_response&) {});
             },
         .announce =
             [&host](int32_t to, std::span<const uint8_t> payload) {
                 host.send_on(raft::host::leadership_channel, to, payload);
             }});
    host.transport().on_reachability(
        [pm = _partitions.get()](int32_t peer, bool up) { pm->set_reachable(peer, up); });
    host.set_handler(raft::host::leadership_channel,
                     [pm = _partitions.get()](int32_t, std::span<const uint8_t> payload) {
                         return pm->on_announcement(payload);
                     });
    _controller->on_tick([this] {
        if (!_serving) return;
        _partitions->tick();
        // Coordinators follow their partitions' leaders.
        if (_groups_open) (void)_groups->refresh(wall_clock_ms());
    });
    _controller->on_apply([this](const cluster::controller::image_ptr& img) {
        if (!_serving) return;
        (void)_partitions->reconcile(img, _cfg.node_id);  // errors are logged; retried next time
        if (_groups_open) (void)_groups->refresh(wall_clock_ms());
    });
    TRIB_TRY(_controller->start());
    TRIB_TRY(wait_for_controller());
    TRIB_TRY(upgrade_single_node_metadata());
    result<void, error> reconciled;
    _controller->run_and_wait([&] {
        _serving = true;
        reconciled = _partitions->reconcile(_controller->image(), _cfg.node_id);
    });
    if (!reconciled) return unexpected(reconciled.error());

    kafka::groups::group_manager_config gc;
    gc.coordinator.min_session_timeout_ms = _cfg.group_min_session_timeout_ms;
    gc.coordinator.max_session_timeout_ms = _cfg.group_max_session_timeout_ms;
    gc.coordinator.initial_rebalance_delay_ms = _cfg.group_initial_rebalance_delay_ms;
    gc.coordinator.offsets_retention_ms = _cfg.offsets_retention_ms;
    gc.log_partitions = _cfg.offsets_partitions;
    _groups = TRIB_TRY(
        kafka::groups::group_manager::open(*_partitions, gc, random_tag(), wall_clock_ms()));
    _groups_open = true;

    kafka::broker_config bc;
    bc.node_id = _cfg.node_id;
    bc.advertised_host = _cfg.advertised().host;
    bc.advertised_port = _cfg.advertised().port;
    bc.auto_create_topics = _cfg.auto_create_topics;
    bc.default_partitions = _cfg.default_partitions;
    bc.default_replication_factor = static_cast<int16_t>(_cfg.default_replication_factor);
    bc.max_request_bytes = _cfg.max_request_bytes;
    bc.max_request_memory = _cfg.max_request_memory;
    bc.fetch_session_slots = static_cast<size_t>(_cfg.fetch_session_slots);
    bc.idle_timeout_ms = _cfg.idle_timeout_ms;
    bc.request_read_timeout_ms = _cfg.request_read_timeout_ms;
    bc.max_fetch_wait_ms = _cfg.max_fetch_wait_ms;
    bc.listen_host = _cfg.kafka_listen.host;
    bc.listen_port = _cfg.kafka_listen.port;
    bc.data_dir = _cfg.data_dir.string();
    bc.event_loops = static_cast<int32_t>(shard_count(_cfg.shards));
    bc.max_connections = _cfg.max_connections;
    bc.group_min_session_timeout_ms = _cfg.group_min_session_timeout_ms;
    bc.group_max_session_timeout_ms = _cfg.group_max_session_timeout_ms;
    bc.group_initial_rebalance_delay_ms = _cfg.group_initial_rebalance_delay_ms;
    bc.offsets_retention_ms = _cfg.offsets_retention_ms;
    bc.offsets_partitions = _cfg.offsets_partitions;
    bc.offsets_replication_factor = _cfg.offsets_replication_factor;
    if (const char* canary = std::getenv("TRIBUTARY_UNSAFE_CANARY")) {
        // The chaos harness's self-test only: it must see this mode lose acknowledged data.
        if (std::string_view(canary) != "ack-before-commit") {
            return unexpected(error{std::make_error_code(std::errc::invalid_argument),
                                    fmt::format("TRIBUTARY_UNSAFE_CANARY={} names no canary "
                                                "(the one there is: ack-before-commit)",
                                                canary)});
        }
        log::get("app")->critical(
            "UNSAFE test mode TRIBUTARY_UNSAFE_CANARY=ack-before-commit: acks=all is answered "
            "before commit, acknowledged data can be lost");
        bc.canary_ack_before_commit = true;
    }
    _broker = std::make_unique<kafka::broker>(bc, *_partitions, *_groups);
    _producer_ids = std::make_unique<cluster::producer_id_allocator>();
    _broker->producer_ids = _producer_ids.get();
    _broker->controller = _controller.get();
    _shards = std::make_unique<net::shard_pool>(shard_count(_cfg.shards));
    _server = TRIB_TRY(kafka::server::bind(*_broker, *_shards, _cfg.kafka_listen.host,
                                           _cfg.kafka_listen.port, _cfg.max_connections));
    admin::sources src{
        .controller = _controller.get(),
        .partitions = _partitions.get(),
        .groups = _groups.get(),
        .self = _cfg.node_id,
        .version = TRIB_NODE_VERSION,
        .started = std::chrono::steady_clock::now(),
        .serving = [this] { return _kafka_serving.load(); },
        .connections = [this] { return _server->connections(); },
        .request_memory_in_use = [this] { return _broker->request_memory.in_use(); },
        .request_memory_limit = static_cast<size_t>(_cfg.max_request_memory),
        .flushes_waiting = [this] { return _controller->raft_host().flushes_waiting(); }};
    _admin = TRIB_TRY(
        admin::admin_server::start(_cfg.admin_listen.host, _cfg.admin_listen.port, std::move(src)));
    return {};
}

void node::hand_over_leaderships() {
    // Clients still connected are told NOT_LEADER_OR_FOLLOWER and move to the new leaders;
    // a handover that does not finish in time ends with the process (an election follows).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    size_t pending = 0;
    do {
        _controller->run_and_wait([&] { pending = _partitions->hand_over_leaderships(); });
        if (pending == 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    log::get("app")->warn("stopping with {} partition leaderships not handed over", pending);
}

result<void, error> node::run_until_signal() {
    auto log = log::get("app");
    asio::io_context io(1);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int signal_number) {
        if (ec) return;
        log->info("shutting down signal={}", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
        io.stop();
    });
    // The handler is installed: a signal that came during start is delivered now.
    auto set = shutdown_signals();
    TRIB_ASSERT(pthread_sigmask(SIG_UNBLOCK, &set, nullptr) == 0);
    _server->start();
    _shards->start();
    log->info("node started node_id={} data_dir={} shards={}", _cfg.node_id, _cfg.data_dir.string(),
              _shards->size());
    // Before the Kafka line, which tests and scripts take as "started".
    log->info("admin API started address={}:{}", _cfg.admin_listen.host, _admin->port());
    log->info("kafka listener started address={} advertised={}", _cfg.kafka_listen.to_string(),
              _cfg.advertised().to_string());
    _kafka_serving = true;
    io.run();
    _kafka_serving = false;  // readiness fails while the node stops
    _admin->stop();
    hand_over_leaderships();
    _shards->stop();
    _server->stop();
    _groups->abandon_waiters();
    _controller->run_and_wait([this] {
        _serving = false;
        _groups_open = false;
        _partitions->close_all();
    });
    _controller->stop();  // the leader fences this broker at once
    _partitions.reset();
    log->info("node stopped");
    std::lock_guard lock(_fatal_mutex);
    if (!_fatal.empty()) {
        return unexpected(error{make_error_code(cluster::errc::duplicate_broker), _fatal});
    }
    return {};
}

}  // namespace trib::app
