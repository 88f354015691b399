// Topic administration: CreateTopics, DeleteTopics.
#include <set>

#include <fmt/format.h>

#include "cluster/errc.h"
#include "cluster/partition_manager.h"
#include "kafka/protocol/create_topics.h"
#include "kafka/protocol/delete_topics.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/server/controller_calls.h"
#include "kafka/server/handlers.h"

namespace trib::kafka {

namespace {

namespace p = protocol;

// The request's topic as the controller takes it: either an explicit assignment (partition
// indexes 0.. in order) or a count and a replication factor, -1 for the defaults.
std::optional<error> to_request(const p::create_topics_request::creatable_topic& t,
                                bool validate_only, cluster::controller_request& out) {
    auto fail = [](cluster::errc code, std::string message) {
        return std::optional<error>(error{make_error_code(code), std::move(message)});
    };
    out = {.kind = cluster::request_kind::create_topic,
           .topic = t.name,
           .validate_only = validate_only};
    if (auto valid = cluster::validate_topic_name(t.name); !valid) return valid.error();
    if (!t.assignments.empty()) {
        if (t.num_partitions != -1 || t.replication_factor != -1) {
            return fail(cluster::errc::invalid_request,
                        "Both numPartitions or replicationFactor and replicasAssignments were "
                        "set. Both cannot be used at the same time.");
        }
        for (size_t i = 0; i < t.assignments.size(); ++i) {
            const auto& a = t.assignments[i];
            if (a.partition_index != static_cast<int32_t>(i)) {
                return fail(cluster::errc::invalid_replica_assignment,
                            "Partitions should be a consecutive 0-based integer sequence");
            }
            out.assignment.push_back(a.broker_ids);
        }
    } else {
        if (t.num_partitions != -1) {
            if (auto ok = cluster::validate_partition_count(t.num_partitions); !ok) {
                return ok.error();
            }
        }
        if (t.replication_factor == 0 || t.replication_factor < -1) {
            return fail(cluster::errc::invalid_replication_factor,
                        "Replication factor must be larger than 0, or -1 to use the default "
                        "value.");
        }
        out.partitions = t.num_partitions;
        out.replication_factor = t.replication_factor;
    }
    cluster::config_overrides configs;
    for (const auto& c : t.configs) {
        if (c.value) configs[c.name] = *c.value;
    }
    auto normalised = cluster::validate_configs(configs);
    if (!normalised) return normalised.error();
    out.configs = std::move(*normalised);
    return std::nullopt;
}

}  // namespace

asio::awaitable<p::create_topics_response> handle_create_topics(request_context& ctx,
                                                                p::create_topics_request& req) {
    auto& b = ctx.b;
    p::create_topics_response resp;
    std::set<std::string> seen;
    auto timeout = controller_timeout(req.timeout_ms);
    for (const auto& t : req.topics) {
        p::create_topics_response::creatable_topic_result out;
        out.name = t.name;
        auto report = [&](const error& e) {
            out.error_code = error_code_of(e);
            out.error_message = e.message;
        };
        if (!seen.insert(t.name).second) {
            out.error_code = error_code::invalid_request;
            out.error_message = "the topic is listed twice in the request";
            resp.topics.push_back(std::move(out));
            continue;
        }
        cluster::controller_request request;
        if (auto bad = to_request(t, req.validate_only, request)) {
            report(*bad);
            resp.topics.push_back(std::move(out));
            continue;
        }
        auto configs = request.configs;
        auto answer = co_await ask_controller(ctx, std::move(request), timeout);
        if (answer.code != cluster::errc::none) {
            report(error_of(answer));
            resp.topics.push_back(std::move(out));
            continue;
        }
        if (auto created = b.partitions.topic(t.name); created && !req.validate_only) {
            out.topic_id.value = created->id;
            out.num_partitions = created->partitions;
            out.replication_factor = static_cast<int16_t>(created->replicas.front().size());
            configs = created->configs;
        } else {
            out.num_partitions =
                t.num_partitions == -1 ? b.config.default_partitions : t.num_partitions;
            out.replication_factor = t.replication_factor == -1
                                         ? b.config.default_replication_factor
                                         : t.replication_factor;
            if (!t.assignments.empty()) {
                out.num_partitions = static_cast<int32_t>(t.assignments.size());
                out.replication_factor =
                    static_cast<int16_t>(t.assignments.front().broker_ids.size());
            }
        }
        out.configs.emplace();
        for (const auto& e : cluster::describe_config(b.partitions.defaults(), configs)) {
            // Config source: 1 topic override, 5 default.
            out.configs->push_back(
                {e.name, e.value, false, int8_t(e.is_default ? 5 : 1), false, {}});
        }
        resp.topics.push_back(std::move(out));
    }
    co_return resp;
}

asio::awaitable<p::delete_topics_response> handle_delete_topics(request_context& ctx,
                                                                p::delete_topics_request& req) {
    auto& b = ctx.b;
    p::delete_topics_response resp;
    // v0-5 name topics in topic_names; v6 in topics, by name or by id.
    std::vector<p::delete_topics_request::delete_topic_state> wanted = req.topics;
    for (const auto& name : req.topic_names)
        wanted.push_back({name, {}, {}});
    for (const auto& w : wanted) {
        p::delete_topics_response::deletable_topic_result out;
        std::optional<std::string> name = w.name;
        out.name = w.name;
        if (!name) {
            out.topic_id = w.topic_id;
            auto t = b.partitions.topic_by_id(w.topic_id.value);
            if (!t) {
                out.error_code = error_code::unknown_topic_id;
                resp.responses.push_back(std::move(out));
                continue;
            }
            name = t->name;
            out.name = t->name;
        } else if (auto t = b.partitions.topic(*name)) {
            out.topic_id.value = t->id;
        }
        if (is_internal_topic(*name)) {
            out.error_code = error_code::invalid_topic_exception;
            out.error_message = "internal topics cannot be deleted";
        } else {
            // Built before the co_await: g++ 12 mishandles braced temporaries there.
            cluster::controller_request request{.kind = cluster::request_kind::delete_topic,
                                                .topic = *name};
            auto answer = co_await ask_controller(ctx, std::move(request),
                                                  controller_timeout(req.timeout_ms));
            if (answer.code != cluster::errc::none) {
                out.error_code = error_code_of(error_of(answer));
                out.error_message = answer.message;
            }
        }
        resp.responses.push_back(std::move(out));
    }
    co_return resp;
}

}  // namespace trib::kafka
