// Topic administration: CreateTopics, DeleteTopics.
#include <set>

#include <fmt/format.h>

#include "cluster/errc.h"
#include "kafka/protocol/create_topics.h"
#include "kafka/protocol/delete_topics.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/server/handlers.h"

namespace trib::kafka {

namespace {

namespace p = protocol;

// This node is the only broker: a replication factor above one cannot be honoured.
std::optional<error> check_replicas(const broker& b,
                                    const p::create_topics_request::creatable_topic& t,
                                    int32_t& partitions) {
    auto fail = [](cluster::errc code, std::string message) {
        return std::optional<error>(error{make_error_code(code), std::move(message)});
    };
    if (!t.assignments.empty()) {
        if (t.num_partitions != -1 || t.replication_factor != -1) {
            return fail(cluster::errc::invalid_partitions,
                        "give either assignments or partitions and replication factor");
        }
        for (size_t i = 0; i < t.assignments.size(); ++i) {
            const auto& a = t.assignments[i];
            if (a.partition_index != static_cast<int32_t>(i) ||
                a.broker_ids != std::vector<int32_t>{b.config.node_id}) {
                return fail(cluster::errc::invalid_replication_factor,
                            fmt::format("assignments must list partitions 0.. in order, each "
                                        "on node {} only (the single broker)",
                                        b.config.node_id));
            }
        }
        partitions = static_cast<int32_t>(t.assignments.size());
        return std::nullopt;
    }
    if (t.replication_factor != -1 && t.replication_factor != 1) {
        return fail(cluster::errc::invalid_replication_factor,
                    fmt::format("replication factor {} is larger than the 1 available broker",
                                t.replication_factor));
    }
    partitions = t.num_partitions == -1 ? b.config.default_partitions : t.num_partitions;
    return std::nullopt;
}

}  // namespace

asio::awaitable<p::create_topics_response> handle_create_topics(request_context& ctx,
                                                                p::create_topics_request& req) {
    auto& b = ctx.b;
    p::create_topics_response resp;
    std::set<std::string> seen;
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
        int32_t partitions = 0;
        cluster::config_overrides configs;
        for (const auto& c : t.configs) {
            if (c.value) configs[c.name] = *c.value;
        }
        if (auto bad = check_replicas(b, t, partitions)) {
            report(*bad);
        } else if (auto created =
                       b.partitions.create_topic(t.name, partitions, configs, req.validate_only);
                   !created) {
            report(created.error());
        } else {
            out.topic_id.value = created->id;
            out.num_partitions = created->partitions;
            out.replication_factor = 1;
            out.configs.emplace();
            for (const auto& e :
                 cluster::describe_config(b.partitions.defaults(), created->configs)) {
                // Config source: 1 topic override, 5 default.
                out.configs->push_back(
                    {e.name, e.value, false, int8_t(e.is_default ? 5 : 1), false, {}});
            }
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
        } else if (auto deleted = b.partitions.delete_topic(*name); !deleted) {
            out.error_code = error_code_of(deleted.error());
            out.error_message = deleted.error().message;
        }
        resp.responses.push_back(std::move(out));
    }
    co_return resp;
}

}  // namespace trib::kafka
