// Administration: CreatePartitions, DeleteRecords, DescribeLogDirs, DescribeCluster,
// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs.
#include <filesystem>

#include <fmt/format.h>

#include "base/clock.h"
#include "kafka/protocol/alter_configs.h"
#include "kafka/protocol/create_partitions.h"
#include "kafka/protocol/delete_records.h"
#include "kafka/protocol/describe_cluster.h"
#include "kafka/protocol/describe_configs.h"
#include "kafka/protocol/describe_log_dirs.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/protocol/incremental_alter_configs.h"
#include "kafka/server/broker_configs.h"
#include "kafka/server/controller_calls.h"
#include "kafka/server/handlers.h"
#include "net/later.h"
#include "storage/errc.h"

namespace trib::kafka {

namespace {

namespace p = protocol;

constexpr int8_t resource_topic = 2;
constexpr int8_t resource_broker = 4;
// DescribeConfigs config sources and types, as Kafka numbers them.
constexpr int8_t source_topic = 1;
constexpr int8_t source_default = 5;

int8_t kafka_type(cluster::value_type t) {
    switch (t) {
        case cluster::value_type::boolean:
            return 1;
        case cluster::value_type::string:
            return 2;
        case cluster::value_type::int32:
            return 3;
        case cluster::value_type::int64:
            return 5;
        case cluster::value_type::ratio:
            return 6;
        case cluster::value_type::list:
            return 7;
    }
    return 0;
}

bool wanted(const std::optional<std::vector<std::string>>& keys, const std::string& name) {
    return !keys || std::find(keys->begin(), keys->end(), name) != keys->end();
}

}  // namespace

asio::awaitable<p::create_partitions_response> handle_create_partitions(
    request_context& ctx, p::create_partitions_request& req) {
    p::create_partitions_response resp;
    for (const auto& t : req.topics) {
        auto& out = resp.results.emplace_back();
        out.name = t.name;
        cluster::controller_request request{.kind = cluster::request_kind::create_partitions,
                                            .topic = t.name,
                                            .partitions = t.count,
                                            .validate_only = req.validate_only};
        if (t.assignments) {
            for (const auto& a : *t.assignments) {
                request.assignment.push_back(a.broker_ids);
            }
        }
        if (is_internal_topic(t.name)) {
            // A group's partition is derived from the count: it must never change.
            out.error_code = error_code::invalid_topic_exception;
            out.error_message = "the partitions of internal topics are fixed";
            continue;
        }
        auto answer =
            co_await ask_controller(ctx, std::move(request), controller_timeout(req.timeout_ms));
        if (answer.code != cluster::errc::none) {
            out.error_code = error_code_of(error_of(answer));
            out.error_message = answer.message;
        }
    }
    co_return resp;
}

asio::awaitable<p::delete_records_response> handle_delete_records(request_context& ctx,
                                                                  p::delete_records_request& req) {
    p::delete_records_response resp;
    for (const auto& t : req.topics) {
        auto& topic_out = resp.topics.emplace_back();
        topic_out.name = t.name;
        for (const auto& dp : t.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition_index = dp.partition_index;
            out.low_watermark = -1;
            auto part = ctx.b.partitions.get(t.name, dp.partition_index);
            if (!part) {
                out.error_code = missing_partition_error(ctx.b, t.name, dp.partition_index);
                continue;
            }
            out.error_code = leader_error(*part, -1);
            if (out.error_code != error_code::none) continue;
            int64_t hw = part->high_watermark();
            int64_t offset = dp.offset == -1 ? hw : dp.offset;  // -1: up to the high watermark
            if (offset < 0 || offset > hw) {
                out.error_code = error_code::offset_out_of_range;
                continue;
            }
            auto answer = std::make_shared<net::later<cluster::replicate_result>>(ctx.executor);
            int64_t deadline = steady_clock_ms() + std::max(req.timeout_ms, 0);
            part->delete_records_before(offset, deadline,
                                        [answer](cluster::replicate_result r) { answer->set(r); });
            auto moved = co_await answer->get();
            out.error_code = replicate_error(moved);
            if (out.error_code != error_code::none) continue;
            out.low_watermark = part->log_start();
        }
    }
    co_return resp;
}

asio::awaitable<p::describe_log_dirs_response> handle_describe_log_dirs(
    request_context& ctx, p::describe_log_dirs_request& req) {
    const auto& pm = ctx.b.partitions;
    p::describe_log_dirs_response resp;
    auto& dir = resp.results.emplace_back();
    std::error_code ec;
    dir.log_dir = std::filesystem::absolute(pm.data_dir(), ec).string();
    if (auto space = std::filesystem::space(pm.data_dir(), ec); !ec) {
        dir.total_bytes = static_cast<int64_t>(space.capacity);
        dir.usable_bytes = static_cast<int64_t>(space.available);
    }
    // Only replicas this node holds are listed, as Kafka does; the lag is Kafka's: how far
    // the log's end is below the high watermark (0 once a replica has what is committed).
    auto add = [&](const std::string& topic, int32_t index) {
        auto part = pm.get(topic, index);
        if (!part) return;
        if (dir.topics.empty() || dir.topics.back().name != topic) {
            dir.topics.emplace_back().name = topic;
        }
        dir.topics.back().partitions.push_back(
            {.partition_index = index,
             .partition_size = static_cast<int64_t>(part->log().size_bytes()),
             .offset_lag = std::max<int64_t>(0, part->high_watermark() - part->log_end()),
             .is_future_key = false,
             .unknown_tagged_fields = {}});
    };
    if (!req.topics) {
        for (const auto& t : pm.topics()) {
            for (int32_t i = 0; i < t.partitions; ++i)
                add(t.name, i);
        }
    } else {
        for (const auto& t : *req.topics) {
            for (int32_t i : t.partitions)
                add(t.topic, i);
        }
    }
    std::erase_if(dir.topics, [](const auto& t) { return t.partitions.empty(); });
    co_return resp;
}

asio::awaitable<p::describe_cluster_response> handle_describe_cluster(
    request_context& ctx, p::describe_cluster_request& req) {
    p::describe_cluster_response resp;
    constexpr int8_t brokers_endpoint = 1;
    if (req.endpoint_type != brokers_endpoint) {
        resp.error_code = error_code::unsupported_endpoint_type;
        resp.error_message = "only broker endpoints are described";
        co_return resp;
    }
    auto img = ctx.b.partitions.image();
    resp.cluster_id = img->cluster_id;
    resp.controller_id = controller_id(ctx.b);
    for (const auto* broker : live_brokers(*img)) {
        resp.brokers.push_back(
            {broker->id, broker->kafka.host, broker->kafka.port, broker->rack, {}});
    }
    co_return resp;
}

asio::awaitable<p::describe_configs_response> handle_describe_configs(
    request_context& ctx, p::describe_configs_request& req) {
    p::describe_configs_response resp;
    for (const auto& r : req.resources) {
        auto& out = resp.results.emplace_back();
        out.resource_type = r.resource_type;
        out.resource_name = r.resource_name;
        auto add = [&](const std::string& name, const std::optional<std::string>& value,
                       bool is_default, int8_t source, int8_t type, bool read_only,
                       const char* documentation) {
            if (!wanted(r.configuration_keys, name)) return;
            auto& c = out.configs.emplace_back();
            c.name = name;
            c.value = value;
            c.read_only = read_only;
            if (ctx.version() == 0) {
                c.is_default = is_default;
            } else {
                c.config_source = source;
            }
            if (ctx.version() >= 3) {
                c.config_type = type;
                c.documentation = documentation;
            }
        };
        if (r.resource_type == resource_topic) {
            auto t = ctx.b.partitions.topic(r.resource_name);
            if (!t) {
                out.error_code = error_code::unknown_topic_or_partition;
                out.error_message = fmt::format("topic '{}' does not exist", r.resource_name);
                continue;
            }
            for (const auto& e :
                 cluster::describe_config(ctx.b.partitions.defaults(), t->configs)) {
                add(e.name, e.value, e.is_default, e.is_default ? source_default : source_topic,
                    kafka_type(e.type), false, e.documentation);
            }
        } else if (r.resource_type == resource_broker) {
            // Kafka: this broker's id gets every setting; "" (the cluster-wide dynamic
            // defaults) none, since there are no dynamic settings; anything else an error.
            if (r.resource_name.empty()) continue;
            if (r.resource_name.find_first_not_of("0123456789") != std::string::npos) {
                out.error_code = error_code::invalid_request;
                out.error_message =
                    fmt::format("Broker id must be an integer, but it is: {}", r.resource_name);
                continue;
            }
            if (r.resource_name != std::to_string(ctx.b.config.node_id)) {
                out.error_code = error_code::invalid_request;
                out.error_message = fmt::format(
                    "Unexpected broker id, expected {} or empty string, but received {}",
                    ctx.b.config.node_id, r.resource_name);
                continue;
            }
            const auto& d = ctx.b.partitions.defaults();
            for (const auto& s : broker_settings(ctx.b.config, d.max_message_bytes, d.segment_bytes,
                                                 d.retention_ms, d.retention_bytes, d.flush_ms)) {
                add(s.name, s.value, s.source == source_default, s.source, s.type, true,
                    s.documentation);
            }
        } else {
            out.error_code = error_code::invalid_request;
            out.error_message = "only topic and broker resources have settings";
        }
    }
    co_return resp;
}

namespace {

// Checks a resource can be altered; fills the error of `out` if not.
template <typename Out>
bool alterable_topic(const request_context& ctx, int8_t type, const std::string& name, Out& out) {
    out.resource_type = type;
    out.resource_name = name;
    if (type == resource_broker) {
        out.error_code = error_code::invalid_request;
        out.error_message = "broker settings are static: change them in the configuration file";
        return false;
    }
    if (type != resource_topic) {
        out.error_code = error_code::invalid_request;
        out.error_message = "only topic settings can be altered";
        return false;
    }
    if (!ctx.b.partitions.topic(name)) {
        out.error_code = error_code::unknown_topic_or_partition;
        out.error_message = fmt::format("topic '{}' does not exist", name);
        return false;
    }
    return true;
}

// Validated here, replaced by the controller (the whole set of overrides at once).
template <typename Out>
asio::awaitable<void> apply(request_context& ctx, const std::string& topic,
                            const cluster::config_overrides& c, bool validate_only, Out& out) {
    auto normalised = cluster::validate_configs(c);
    if (!normalised) {
        out.error_code = error_code_of(normalised.error());
        out.error_message = normalised.error().message;
        co_return;
    }
    // Built before the co_await: g++ 12 mishandles braced temporaries in co_await arguments.
    cluster::controller_request request{.kind = cluster::request_kind::set_topic_configs,
                                        .topic = topic,
                                        .configs = std::move(*normalised),
                                        .validate_only = validate_only};
    auto answer = co_await ask_controller(ctx, std::move(request));
    if (answer.code != cluster::errc::none) {
        out.error_code = error_code_of(error_of(answer));
        out.error_message = answer.message;
    }
}

}  // namespace

asio::awaitable<p::alter_configs_response> handle_alter_configs(request_context& ctx,
                                                                p::alter_configs_request& req) {
    p::alter_configs_response resp;
    for (const auto& r : req.resources) {
        auto& out = resp.responses.emplace_back();
        if (!alterable_topic(ctx, r.resource_type, r.resource_name, out)) continue;
        // AlterConfigs replaces the whole set of overrides.
        cluster::config_overrides configs;
        for (const auto& c : r.configs) {
            if (c.value) configs[c.name] = *c.value;
        }
        co_await apply(ctx, r.resource_name, configs, req.validate_only, out);
    }
    co_return resp;
}

// IncrementalAlterConfigs' operations. (At namespace scope: g++ 12 crashes on a local enum
// inside this coroutine.)
enum : int8_t { op_set = 0, op_delete = 1, op_append = 2, op_subtract = 3 };

asio::awaitable<p::incremental_alter_configs_response> handle_incremental_alter_configs(
    request_context& ctx, p::incremental_alter_configs_request& req) {
    p::incremental_alter_configs_response resp;
    for (const auto& r : req.resources) {
        auto& out = resp.responses.emplace_back();
        if (!alterable_topic(ctx, r.resource_type, r.resource_name, out)) continue;
        auto configs = ctx.b.partitions.topic(r.resource_name)->configs;
        const auto& defaults = ctx.b.partitions.defaults();
        for (const auto& c : r.configs) {
            auto type = cluster::type_of(c.name);
            if (!type) {
                out.error_code = error_code::invalid_config;
                out.error_message = fmt::format("unknown topic config name: {}", c.name);
                break;
            }
            bool is_list = *type == cluster::value_type::list;
            if (c.config_operation == op_set && c.value) {
                configs[c.name] = *c.value;
            } else if (c.config_operation == op_delete) {
                configs.erase(c.name);
            } else if ((c.config_operation == op_append || c.config_operation == op_subtract) &&
                       is_list && c.value) {
                // List settings (cleanup.policy): add or remove one item.
                std::string current;
                for (const auto& e : cluster::describe_config(defaults, configs)) {
                    if (e.name == c.name) current = e.value;
                }
                std::vector<std::string> items;
                for (size_t start = 0; start <= current.size();) {
                    auto comma = current.find(',', start);
                    if (comma == std::string::npos) comma = current.size();
                    if (comma > start) items.push_back(current.substr(start, comma - start));
                    start = comma + 1;
                }
                auto it = std::find(items.begin(), items.end(), *c.value);
                if (c.config_operation == op_append && it == items.end()) items.push_back(*c.value);
                if (c.config_operation == op_subtract && it != items.end()) items.erase(it);
                configs[c.name] = fmt::format("{}", fmt::join(items, ","));
            } else {
                out.error_code = error_code::invalid_config;
                out.error_message =
                    fmt::format("operation {} is not valid for {}", c.config_operation, c.name);
                break;
            }
        }
        if (out.error_code != error_code::none) continue;
        co_await apply(ctx, r.resource_name, configs, req.validate_only, out);
    }
    co_return resp;
}

}  // namespace trib::kafka
