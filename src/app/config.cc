#include "app/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace trib::app {
namespace {

class config_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "config"; }
    std::string message(int code) const override {
        switch (static_cast<config_errc>(code)) {
            case config_errc::unknown_setting:
                return "unknown setting";
            case config_errc::invalid_value:
                return "invalid value";
            case config_errc::unreadable_file:
                return "unreadable configuration file";
            case config_errc::invalid_yaml:
                return "invalid YAML";
            case config_errc::inconsistent_settings:
                return "inconsistent settings";
            case config_errc::data_dir_unusable:
                return "data directory unusable";
            case config_errc::data_dir_locked:
                return "data directory locked";
            case config_errc::data_dir_foreign:
                return "data directory belongs to another node";
        }
        return "unknown config error";
    }
};

bool is_wildcard(const std::string& host) {
    return host == "0.0.0.0" || host == "::";
}

result<void, std::string> parse_node_id(config& cfg, std::string_view value) {
    int32_t id = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
    if (ec != std::errc() || end != value.data() + value.size() || id < 0) {
        return unexpected(std::string("must be an integer between 0 and 2147483647"));
    }
    cfg.node_id = id;
    return {};
}

result<void, std::string> parse_data_dir(config& cfg, std::string_view value) {
    if (value.empty()) return unexpected(std::string("must not be empty"));
    cfg.data_dir = std::filesystem::path(value);
    return {};
}

result<void, std::string> parse_listen(config& cfg, std::string_view value) {
    auto hp = parse_host_port(value);
    if (!hp) return unexpected(hp.error());
    cfg.kafka_listen = std::move(*hp);
    return {};
}

result<void, std::string> parse_advertised(config& cfg, std::string_view value) {
    if (value.empty()) {
        cfg.kafka_advertised.reset();
        return {};
    }
    auto hp = parse_host_port(value);
    if (!hp) return unexpected(hp.error());
    if (is_wildcard(hp->host)) {
        return unexpected(std::string("a wildcard address cannot be advertised to clients"));
    }
    cfg.kafka_advertised = std::move(*hp);
    return {};
}

result<void, std::string> parse_rpc_listen(config& cfg, std::string_view value) {
    auto hp = parse_host_port(value, true);
    if (!hp) return unexpected(hp.error());
    cfg.rpc_listen = std::move(*hp);
    return {};
}

result<void, std::string> parse_admin_listen(config& cfg, std::string_view value) {
    auto hp = parse_host_port(value, true);
    if (!hp) return unexpected(hp.error());
    cfg.admin_listen = std::move(*hp);
    return {};
}

result<void, std::string> parse_rpc_advertised(config& cfg, std::string_view value) {
    if (value.empty()) {
        cfg.rpc_advertised.reset();
        return {};
    }
    auto hp = parse_host_port(value);
    if (!hp) return unexpected(hp.error());
    if (is_wildcard(hp->host) || hp->port == 0) {
        return unexpected(std::string("must be an address and port other nodes can reach"));
    }
    cfg.rpc_advertised = std::move(*hp);
    return {};
}

// "1@host:port,2@host:port": ids unique, addresses with fixed ports.
result<void, std::string> parse_voters(config& cfg, std::string_view value) {
    std::vector<std::pair<int32_t, host_port>> voters;
    size_t start = 0;
    while (start < value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        auto item = value.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        size_t at = item.find('@');
        int32_t id = -1;
        if (at != std::string_view::npos) {
            auto [end, ec] = std::from_chars(item.data(), item.data() + at, id);
            if (ec != std::errc() || end != item.data() + at) id = -1;
        }
        if (id < 0) {
            return unexpected(fmt::format("'{}' is not id@host:port", item));
        }
        auto hp = parse_host_port(item.substr(at + 1));
        if (!hp) return unexpected(fmt::format("voter {}: {}", id, hp.error()));
        if (hp->port == 0 || is_wildcard(hp->host)) {
            return unexpected(
                fmt::format("voter {} needs an address and port others can reach", id));
        }
        for (const auto& [other, address] : voters) {
            if (other == id) return unexpected(fmt::format("voter {} is named twice", id));
        }
        voters.emplace_back(id, std::move(*hp));
        start = comma + 1;
    }
    std::sort(voters.begin(), voters.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    cfg.controller_voters = std::move(voters);
    return {};
}

std::string show_voters(const config& cfg) {
    std::string out;
    for (const auto& [id, address] : cfg.controller_voters) {
        if (!out.empty()) out += ",";
        out += fmt::format("{}@{}", id, address.to_string());
    }
    return out;
}

result<void, std::string> parse_rack(config& cfg, std::string_view value) {
    if (value.empty()) {
        cfg.rack.reset();
    } else {
        cfg.rack = std::string(value);
    }
    return {};
}

result<void, std::string> parse_log_level(config& cfg, std::string_view value) {
    auto level = log::parse_level(value);
    if (!level) {
        return unexpected(
            std::string("must be one of trace, debug, info, warn, error, critical, off"));
    }
    cfg.log_level = *level;
    return {};
}

result<void, std::string> parse_log_format(config& cfg, std::string_view value) {
    auto f = log::parse_format(value);
    if (!f) return unexpected(std::string("must be text or json"));
    cfg.log_format = *f;
    return {};
}

// An integer setting within [Min, Max], stored in `Field`.
template <typename T, T config::*Field, int64_t Min, int64_t Max>
result<void, std::string> parse_int(config& cfg, std::string_view value) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v < Min || v > Max) {
        return unexpected(fmt::format("must be an integer between {} and {}", Min, Max));
    }
    cfg.*Field = static_cast<T>(v);
    return {};
}

template <typename T, T config::*Field>
std::string show_int(const config& cfg) {
    return std::to_string(cfg.*Field);
}

template <bool config::*Field>
result<void, std::string> parse_bool(config& cfg, std::string_view value) {
    if (value == "true") {
        cfg.*Field = true;
    } else if (value == "false") {
        cfg.*Field = false;
    } else {
        return unexpected(std::string("must be true or false"));
    }
    return {};
}

template <bool config::*Field>
std::string show_bool(const config& cfg) {
    return cfg.*Field ? "true" : "false";
}

constexpr int64_t day_ms = int64_t{24} * 3600 * 1000;

std::string show_level(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
            return "trace";
        case spdlog::level::debug:
            return "debug";
        case spdlog::level::info:
            return "info";
        case spdlog::level::warn:
            return "warn";
        case spdlog::level::err:
            return "error";
        case spdlog::level::critical:
            return "critical";
        default:
            return "off";
    }
}

constexpr setting setting_table[] = {
    {"node.id", "node-id", "Node id, unique in the cluster (0-2147483647)", false, parse_node_id,
     [](const config& c) { return std::to_string(c.node_id); }},
    {"node.data_dir", "data-dir", "Directory holding this node's data (created if missing)", false,
     parse_data_dir, [](const config& c) { return c.data_dir.string(); }},
    {"kafka.listen", "listen", "Kafka listener address, host:port", false, parse_listen,
     [](const config& c) { return c.kafka_listen.to_string(); }},
    {"kafka.advertised", "advertised",
     "Address given to clients, host:port (default: the listener address)", true, parse_advertised,
     [](const config& c) { return c.advertised().to_string(); }},
    {"rpc.listen", "rpc-listen",
     "Node-to-node listener, host:port; port 0 picks a free one (a one-node cluster only)", false,
     parse_rpc_listen, [](const config& c) { return c.rpc_listen.to_string(); }},
    {"rpc.advertised", "rpc-advertised",
     "Node-to-node address other nodes are given (default: the rpc listener address)", true,
     parse_rpc_advertised,
     [](const config& c) { return c.rpc_advertised ? c.rpc_advertised->to_string() : ""; }},
    {"admin.listen", "admin-listen",
     "Admin HTTP API and /metrics listener, host:port (port 0: a free one)", false,
     parse_admin_listen, [](const config& c) { return c.admin_listen.to_string(); }},
    {"controller.voters", "controller-voters",
     "The controller's voters as id@host:port,... (their rpc addresses), the same on every "
     "node; empty: this node alone",
     true, parse_voters, show_voters},
    {"broker.rack", "rack", "Rack of this broker, for rack-aware replica placement", true,
     parse_rack, [](const config& c) { return c.rack.value_or(""); }},
    {"broker.session_timeout_ms", "broker-session-timeout-ms",
     "A broker that sends the controller no heartbeat for this long is fenced", false,
     parse_int<int64_t, &config::broker_session_timeout_ms, 500, 600'000>,
     show_int<int64_t, &config::broker_session_timeout_ms>},
    {"broker.heartbeat_interval_ms", "broker-heartbeat-interval-ms",
     "How often a broker heartbeats to the controller", false,
     parse_int<int64_t, &config::broker_heartbeat_interval_ms, 50, 60'000>,
     show_int<int64_t, &config::broker_heartbeat_interval_ms>},
    {"replication.election_timeout_ms", "election-timeout-ms",
     "A partition's follower that hears nothing from its leader for between one and two of "
     "these starts an election (rounded to 100 ms)",
     false, parse_int<int64_t, &config::partition_election_timeout_ms, 200, 60'000>,
     show_int<int64_t, &config::partition_election_timeout_ms>},
    {"replication.replica_lag_time_max_ms", "replica-lag-time-max-ms",
     "A follower not caught up with its leader for this long leaves the in-sync replicas "
     "(Kafka's replica.lag.time.max.ms)",
     false, parse_int<int64_t, &config::replica_lag_max_ms, 100, 3'600'000>,
     show_int<int64_t, &config::replica_lag_max_ms>},
    {"replication.auto_leader_rebalance", "auto-leader-rebalance",
     "Leaders move back to each partition's preferred replica once it is in sync "
     "(auto.leader.rebalance.enable)",
     false, parse_bool<&config::auto_leader_rebalance>, show_bool<&config::auto_leader_rebalance>},
    {"replication.leader_rebalance_check_ms", "leader-rebalance-check-ms",
     "How often a leader that is not its partition's preferred replica checks whether that one "
     "can take over",
     false, parse_int<int64_t, &config::leader_rebalance_check_ms, 100, 3'600'000>,
     show_int<int64_t, &config::leader_rebalance_check_ms>},
    {"log.level", "log-level", "trace, debug, info, warn, error, critical or off", false,
     parse_log_level, [](const config& c) { return show_level(c.log_level); }},
    {"log.format", "log-format", "text or json (one JSON object per line)", false, parse_log_format,
     [](const config& c) {
         return std::string(c.log_format == log::format::json ? "json" : "text");
     }},
    {"node.shards", "shards",
     "Event loops (threads) serving clients and partitions; 0: one per core", false,
     parse_int<int32_t, &config::shards, 0, 256>, show_int<int32_t, &config::shards>},
    {"kafka.auto_create_topics", "auto-create-topics",
     "Create a topic when a client asks for its metadata or produces to it (true/false)", false,
     parse_bool<&config::auto_create_topics>, show_bool<&config::auto_create_topics>},
    {"kafka.default_partitions", "default-partitions",
     "Partitions of an auto-created topic, and of CreateTopics asking for the default", false,
     parse_int<int32_t, &config::default_partitions, 1, 100000>,
     show_int<int32_t, &config::default_partitions>},
    {"kafka.default_replication_factor", "default-replication-factor",
     "Replicas of a topic whose creation asks for the default (default.replication.factor)", false,
     parse_int<int32_t, &config::default_replication_factor, 1, 15>,
     show_int<int32_t, &config::default_replication_factor>},
    {"kafka.max_request_bytes", "max-request-bytes",
     "Largest request accepted; a larger one closes the connection", false,
     parse_int<int64_t, &config::max_request_bytes, 1024, int64_t{1} << 30>,
     show_int<int64_t, &config::max_request_bytes>},
    {"kafka.max_request_memory", "max-request-memory",
     "Bytes of requests being served across all connections; past it, reading waits", false,
     parse_int<int64_t, &config::max_request_memory, 1024, int64_t{1} << 40>,
     show_int<int64_t, &config::max_request_memory>},
    {"kafka.fetch_session_slots", "fetch-session-slots",
     "Incremental fetch sessions kept (max.incremental.fetch.session.cache.slots); 0: none", false,
     parse_int<int32_t, &config::fetch_session_slots, 0, 1000000>,
     show_int<int32_t, &config::fetch_session_slots>},
    {"groups.min_session_timeout_ms", "group-min-session-timeout-ms",
     "Shortest session timeout a consumer may ask for (group.min.session.timeout.ms)", false,
     parse_int<int32_t, &config::group_min_session_timeout_ms, 1, 86'400'000>,
     show_int<int32_t, &config::group_min_session_timeout_ms>},
    {"groups.max_session_timeout_ms", "group-max-session-timeout-ms",
     "Longest session timeout a consumer may ask for (group.max.session.timeout.ms)", false,
     parse_int<int32_t, &config::group_max_session_timeout_ms, 1, 86'400'000>,
     show_int<int32_t, &config::group_max_session_timeout_ms>},
    {"groups.initial_rebalance_delay_ms", "group-initial-rebalance-delay-ms",
     "How long a new group waits for more members before its first rebalance", false,
     parse_int<int32_t, &config::group_initial_rebalance_delay_ms, 0, 300'000>,
     show_int<int32_t, &config::group_initial_rebalance_delay_ms>},
    {"groups.offsets_retention_ms", "offsets-retention-ms",
     "Committed offsets of an empty group are kept this long (offsets.retention.minutes)", false,
     parse_int<int64_t, &config::offsets_retention_ms, 1000, INT64_MAX>,
     show_int<int64_t, &config::offsets_retention_ms>},
    {"groups.offsets_partitions", "offsets-partitions",
     "Partitions of __consumer_offsets when it is first created", false,
     parse_int<int32_t, &config::offsets_partitions, 1, 1000>,
     show_int<int32_t, &config::offsets_partitions>},
    {"groups.offsets_replication_factor", "offsets-replication-factor",
     "Replicas of each __consumer_offsets partition when it is first created, at most the live "
     "brokers then (offsets.topic.replication.factor)",
     false, parse_int<int32_t, &config::offsets_replication_factor, 1, 15>,
     show_int<int32_t, &config::offsets_replication_factor>},
    {"kafka.max_connections", "max-connections", "Client connections served at once", false,
     parse_int<int32_t, &config::max_connections, 1, 1000000>,
     show_int<int32_t, &config::max_connections>},
    {"kafka.idle_timeout_ms", "idle-timeout-ms", "Idle client connections are closed after this",
     false, parse_int<int64_t, &config::idle_timeout_ms, 1000, day_ms>,
     show_int<int64_t, &config::idle_timeout_ms>},
    {"kafka.request_read_timeout_ms", "request-read-timeout-ms",
     "A request's bytes must arrive within this of its size prefix, or the connection closes",
     false, parse_int<int64_t, &config::request_read_timeout_ms, 100, 600'000>,
     show_int<int64_t, &config::request_read_timeout_ms>},
    {"kafka.max_fetch_wait_ms", "max-fetch-wait-ms",
     "Longest a Fetch waits for data, whatever its max_wait_ms asks", false,
     parse_int<int64_t, &config::max_fetch_wait_ms, 0, 600'000>,
     show_int<int64_t, &config::max_fetch_wait_ms>},
    {"kafka.max_message_bytes", "max-message-bytes",
     "Default largest record batch a topic takes (topic setting max.message.bytes)", false,
     parse_int<int64_t, &config::max_message_bytes, 1024, int64_t{1} << 30>,
     show_int<int64_t, &config::max_message_bytes>},
    {"storage.segment_bytes", "segment-bytes", "Default segment size (topic setting segment.bytes)",
     false, parse_int<int64_t, &config::segment_bytes, 1024, int64_t{1} << 30>,
     show_int<int64_t, &config::segment_bytes>},
    {"storage.retention_ms", "retention-ms",
     "Default time records are kept, -1 forever (topic setting retention.ms)", false,
     parse_int<int64_t, &config::retention_ms, -1, INT64_MAX>,
     show_int<int64_t, &config::retention_ms>},
    {"storage.retention_bytes", "retention-bytes",
     "Default partition size kept, -1 no limit (topic setting retention.bytes)", false,
     parse_int<int64_t, &config::retention_bytes, -1, INT64_MAX>,
     show_int<int64_t, &config::retention_bytes>},
    {"storage.disk_reserve_bytes", "disk-reserve-bytes",
     "Disk space held in reserve (data_dir/space_reserve) and given up when the disk is full, "
     "so topics and records can still be deleted; 0: none",
     false, parse_int<int64_t, &config::disk_reserve_bytes, 0, int64_t{1} << 30>,
     show_int<int64_t, &config::disk_reserve_bytes>},
    {"storage.flush_threads", "flush-threads",
     "Threads that fdatasync partition logs, in parallel across partitions", false,
     parse_int<int32_t, &config::flush_threads, 1, 256>, show_int<int32_t, &config::flush_threads>},
    {"storage.flush_ms", "flush-ms",
     "Default longest time appended data waits for fsync (topic setting flush.ms); acks=all "
     "always waits for fsync",
     false, parse_int<int64_t, &config::flush_ms, 0, INT64_MAX>,
     show_int<int64_t, &config::flush_ms>},
    {"storage.cleaner_interval_ms", "cleaner-interval-ms", "How often retention and compaction run",
     false, parse_int<int64_t, &config::cleaner_interval_ms, 10, day_ms>,
     show_int<int64_t, &config::cleaner_interval_ms>},
};

error make_error(config_errc code, std::string message) {
    return error{make_error_code(code), std::move(message)};
}

}  // namespace

const std::error_category& config_category() {
    static const config_category_impl category;
    return category;
}

std::span<const setting> settings() {
    return setting_table;
}

result<void, error> set_setting(config& cfg, std::string_view name, std::string_view value,
                                std::string_view origin) {
    auto it = std::find_if(std::begin(setting_table), std::end(setting_table),
                           [&](const setting& s) { return s.name == name; });
    if (it == std::end(setting_table)) {
        return unexpected(make_error(config_errc::unknown_setting,
                                     fmt::format("unknown setting '{}' ({})", name, origin)));
    }
    if (value.empty() && !it->optional) {
        return unexpected(make_error(config_errc::invalid_value,
                                     fmt::format("setting {} needs a value ({})", name, origin)));
    }
    if (auto r = it->parse(cfg, value); !r) {
        return unexpected(make_error(
            config_errc::invalid_value,
            fmt::format("invalid value \"{}\" for {} ({}): {}", value, name, origin, r.error())));
    }
    return {};
}

result<void, error> apply_yaml(config& cfg, std::string_view yaml_text, std::string_view origin) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        return unexpected(make_error(
            config_errc::invalid_yaml,
            fmt::format("{} line {}: invalid YAML: {}", origin, e.mark.line + 1, e.msg)));
    }
    if (root.IsNull()) return {};  // an empty file sets nothing
    if (!root.IsMap()) {
        return unexpected(make_error(config_errc::invalid_yaml,
                                     fmt::format("{}: expected a mapping of sections", origin)));
    }
    for (const auto& section : root) {
        const auto section_name = section.first.as<std::string>();
        const auto where = [&](const YAML::Node& n) {
            return fmt::format("{} line {}", origin, n.Mark().line + 1);
        };
        if (!section.second.IsMap()) {
            return unexpected(
                make_error(config_errc::invalid_yaml,
                           fmt::format("section '{}' must be a mapping of settings ({})",
                                       section_name, where(section.first))));
        }
        for (const auto& entry : section.second) {
            auto name = fmt::format("{}.{}", section_name, entry.first.as<std::string>());
            if (!entry.second.IsScalar() && !entry.second.IsNull()) {
                return unexpected(make_error(config_errc::invalid_value,
                                             fmt::format("setting {} must be a single value ({})",
                                                         name, where(entry.first))));
            }
            auto value = entry.second.IsNull() ? std::string() : entry.second.Scalar();
            TRIB_TRY(set_setting(cfg, name, value, where(entry.first)));
        }
    }
    return {};
}

result<void, error> apply_yaml_file(config& cfg, const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) {
        return unexpected(make_error(config_errc::unreadable_file,
                                     fmt::format("cannot read configuration file {}: {}",
                                                 path.string(), std::strerror(errno))));
    }
    std::stringstream text;
    text << in.rdbuf();
    return apply_yaml(cfg, text.str(), path.string());
}

result<void, error> validate(const config& cfg) {
    if (is_wildcard(cfg.kafka_listen.host) && !cfg.kafka_advertised) {
        return unexpected(make_error(
            config_errc::inconsistent_settings,
            fmt::format("kafka.listen is the wildcard address {}: set kafka.advertised to the "
                        "address clients should connect to",
                        cfg.kafka_listen.to_string())));
    }
    if (is_wildcard(cfg.rpc_listen.host) && !cfg.rpc_advertised) {
        return unexpected(make_error(
            config_errc::inconsistent_settings,
            fmt::format("rpc.listen is the wildcard address {}: set rpc.advertised to the "
                        "address other nodes should connect to",
                        cfg.rpc_listen.to_string())));
    }
    if (cfg.broker_heartbeat_interval_ms >= cfg.broker_session_timeout_ms) {
        return unexpected(make_error(
            config_errc::inconsistent_settings,
            fmt::format("broker.heartbeat_interval_ms ({}) must be below "
                        "broker.session_timeout_ms ({})",
                        cfg.broker_heartbeat_interval_ms, cfg.broker_session_timeout_ms)));
    }
    if (!cfg.controller_voters.empty()) {
        if (cfg.rpc_address().port == 0) {
            return unexpected(make_error(
                config_errc::inconsistent_settings,
                "controller.voters is set: rpc.listen (or rpc.advertised) needs a fixed port "
                "that the other nodes can reach"));
        }
        for (const auto& [id, address] : cfg.controller_voters) {
            if (id == cfg.node_id && address != cfg.rpc_address()) {
                return unexpected(make_error(
                    config_errc::inconsistent_settings,
                    fmt::format("controller.voters names node {} at {}, but its rpc address is "
                                "{}: the voters must name each node's rpc.advertised address",
                                id, address.to_string(), cfg.rpc_address().to_string())));
            }
        }
    }
    return {};
}

std::vector<std::pair<std::string, std::string>> describe(const config& cfg) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : setting_table)
        out.emplace_back(std::string(s.name), s.show(cfg));
    return out;
}

}  // namespace trib::app
