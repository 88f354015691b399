// Node configuration: defaults, a YAML file, then command-line flags, each applied through one
// table of settings so that every source is validated the same way (config.cc).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/host_port.h"
#include "base/logging.h"
#include "base/result.h"

namespace trib::app {

enum class config_errc {
    unknown_setting = 1,
    invalid_value,
    unreadable_file,
    invalid_yaml,
    inconsistent_settings,
    data_dir_unusable,
    data_dir_locked,
    data_dir_foreign,
};
const std::error_category& config_category();
inline std::error_code make_error_code(config_errc e) {
    return {static_cast<int>(e), config_category()};
}

using trib::host_port;  // base/host_port.h
using trib::parse_host_port;

struct config {
    int32_t node_id = 0;
    std::filesystem::path data_dir = "tributary-data";
    host_port kafka_listen{"127.0.0.1", 9092};
    // The address clients are told to connect to; defaults to kafka_listen.
    std::optional<host_port> kafka_advertised;
    spdlog::level::level_enum log_level = spdlog::level::info;
    log::format log_format = log::format::text;
    int32_t shards = 0;  // event loops (threads); 0: one per core

    // Node to node: the controller and (later) replication. Port 0 picks a free port, which
    // only a one-node cluster can use.
    host_port rpc_listen{"127.0.0.1", 0};
    // The admin HTTP API and /metrics; port 0 picks a free one (logged).
    host_port admin_listen{"127.0.0.1", 9644};
    std::optional<host_port> rpc_advertised;
    // The controller's voters, written the same way on every node; empty: this node alone.
    std::vector<std::pair<int32_t, host_port>> controller_voters;
    std::optional<std::string> rack;
    int64_t broker_session_timeout_ms = 9000;     // broker.session.timeout.ms
    int64_t broker_heartbeat_interval_ms = 1000;  // broker.heartbeat.interval.ms
    // Partitions' Raft groups: a follower that hears nothing from its leader for between
    // one and two of these campaigns (100 ms ticks).
    int64_t partition_election_timeout_ms = 500;
    int64_t replica_lag_max_ms = 30000;  // replica.lag.time.max.ms
    bool auto_leader_rebalance = true;   // auto.leader.rebalance.enable
    int64_t leader_rebalance_check_ms = 10000;

    bool auto_create_topics = false;
    int32_t default_partitions = 1;
    int32_t default_replication_factor = 1;
    int64_t max_request_bytes = int64_t{100} * 1024 * 1024;   // socket.request.max.bytes
    int64_t max_request_memory = int64_t{256} * 1024 * 1024;  // queued.max.request.bytes
    int32_t fetch_session_slots = 1000;
    // Consumer groups (Kafka's group.* and offsets.* broker settings).
    int32_t group_min_session_timeout_ms = 6000;
    int32_t group_max_session_timeout_ms = 1'800'000;
    int32_t group_initial_rebalance_delay_ms = 3000;
    int64_t offsets_retention_ms = int64_t{7} * 24 * 3600 * 1000;
    int32_t offsets_partitions = 16;
    int32_t offsets_replication_factor = 3;
    int32_t max_connections = 10000;
    int64_t idle_timeout_ms = int64_t{10} * 60 * 1000;  // connections.max.idle.ms
    int64_t request_read_timeout_ms = 10'000;           // a stalled request's bytes, then close
    int64_t max_fetch_wait_ms = 30'000;                 // caps a Fetch's max_wait_ms
    int64_t max_message_bytes = 1024 * 1024 + 12;       // message.max.bytes: a batch's limit

    // Defaults of the topic settings of the same Kafka names.
    int64_t segment_bytes = int64_t{1} << 30;              // segment.bytes
    int64_t retention_ms = int64_t{7} * 24 * 3600 * 1000;  // retention.ms (-1: forever)
    int64_t retention_bytes = -1;                          // retention.bytes (-1: no limit)
    int64_t flush_ms = 1000;                               // flush.ms
    int64_t disk_reserve_bytes = int64_t{16} << 20;        // given up on a full disk
    int32_t flush_threads = 8;                             // logs fdatasynced in parallel
    int64_t cleaner_interval_ms = int64_t{30} * 1000;      // how often retention/compaction run

    host_port advertised() const { return kafka_advertised.value_or(kafka_listen); }
    host_port rpc_address() const { return rpc_advertised.value_or(rpc_listen); }
};

// One configurable setting: its dotted YAML name ("kafka.listen"), its flag ("listen") and how
// to parse it into and show it from a config.
struct setting {
    std::string_view name;
    std::string_view flag;
    std::string_view help;
    bool optional;  // may be set to null/empty to mean "not set"
    result<void, std::string> (*parse)(config&, std::string_view value);
    std::string (*show)(const config&);
};

std::span<const setting> settings();

// Sets one setting by its dotted name; `origin` says where the value came from, for errors.
result<void, error> set_setting(config& cfg, std::string_view name, std::string_view value,
                                std::string_view origin);

// Applies every setting in a YAML document (sections of key: value) on top of `cfg`.
result<void, error> apply_yaml(config& cfg, std::string_view yaml_text, std::string_view origin);
result<void, error> apply_yaml_file(config& cfg, const std::filesystem::path& path);

// Cross-setting checks, run once every source has been applied.
result<void, error> validate(const config& cfg);

// Every setting as (name, value) in table order, for the startup log and --check-config.
std::vector<std::pair<std::string, std::string>> describe(const config& cfg);

}  // namespace trib::app

template <>
struct std::is_error_code_enum<trib::app::config_errc> : std::true_type {};
