#include "app/node.h"

#include <csignal>
#include <random>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <pthread.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "cluster/partition_manager.h"
#include "cluster/producer_ids.h"
#include "kafka/groups/group_manager.h"
#include "kafka/server/server.h"
#include "net/shard_pool.h"
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
    // Loops first: the listener belongs to shard 0's loop and is closed once it is still.
    if (_shards) _shards->stop();
    if (_server) _server->stop();
    // Waiting group requests hold timers of the loops: release them while the loops exist.
    if (_groups) _groups->abandon_waiters();
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
        _cfg.data_dir, defaults, std::chrono::milliseconds(_cfg.cleaner_interval_ms),
        static_cast<size_t>(_cfg.flush_threads)));

    kafka::groups::group_manager_config gc;
    gc.coordinator.min_session_timeout_ms = _cfg.group_min_session_timeout_ms;
    gc.coordinator.max_session_timeout_ms = _cfg.group_max_session_timeout_ms;
    gc.coordinator.initial_rebalance_delay_ms = _cfg.group_initial_rebalance_delay_ms;
    gc.coordinator.offsets_retention_ms = _cfg.offsets_retention_ms;
    gc.log_partitions = _cfg.offsets_partitions;
    _groups = TRIB_TRY(
        kafka::groups::group_manager::open(*_partitions, gc, random_tag(), wall_clock_ms()));

    kafka::broker_config bc;
    bc.node_id = _cfg.node_id;
    bc.advertised_host = _cfg.advertised().host;
    bc.advertised_port = _cfg.advertised().port;
    bc.auto_create_topics = _cfg.auto_create_topics;
    bc.default_partitions = _cfg.default_partitions;
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
    _broker = std::make_unique<kafka::broker>(bc, *_partitions, *_groups);
    _producer_ids = TRIB_TRY(cluster::producer_id_allocator::open(_cfg.data_dir));
    _broker->producer_ids = _producer_ids.get();
    _shards = std::make_unique<net::shard_pool>(shard_count(_cfg.shards));
    _server = TRIB_TRY(kafka::server::bind(*_broker, *_shards, _cfg.kafka_listen.host,
                                           _cfg.kafka_listen.port, _cfg.max_connections));
    return {};
}

void node::run_until_signal() {
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
    log->info("kafka listener started address={} advertised={}", _cfg.kafka_listen.to_string(),
              _cfg.advertised().to_string());
    io.run();
    _shards->stop();
    _server->stop();
    _groups->abandon_waiters();
    _partitions.reset();  // flushes every log
    log->info("node stopped");
}

}  // namespace trib::app
