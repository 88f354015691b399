// Consumer group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete. Each
// translates its request for the coordinator (kafka/groups) and waits, where the protocol
// says so, for answers that come later (JoinGroup, SyncGroup) or for the group log to be
// durable (OffsetCommit, so a committed offset survives a crash once acknowledged).
#include <algorithm>
#include <atomic>
#include <cctype>

#include "base/clock.h"
#include "base/logging.h"
#include "kafka/groups/group_manager.h"
#include "kafka/protocol/delete_groups.h"
#include "kafka/protocol/describe_groups.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/protocol/find_coordinator.h"
#include "kafka/protocol/heartbeat.h"
#include "kafka/protocol/join_group.h"
#include "kafka/protocol/leave_group.h"
#include "kafka/protocol/list_groups.h"
#include "kafka/protocol/offset_commit.h"
#include "kafka/protocol/offset_delete.h"
#include "kafka/protocol/offset_fetch.h"
#include "kafka/protocol/sync_group.h"
#include "kafka/server/controller_calls.h"
#include "kafka/server/handlers.h"
#include "net/async_event.h"
#include "net/later.h"

namespace trib::kafka {

namespace {

namespace p = protocol;
namespace g = groups;

constexpr int8_t group_key_type = 0;
constexpr auto max_load_wait = std::chrono::seconds(2);
constexpr const char* transactions_unsupported =
    "Tributary does not support transactions yet: use an idempotent producer "
    "(enable.idempotence) without transactional.id";

// Runs `fn` on the coordinator and waits until what it wrote is durable.
template <typename Fn>
asio::awaitable<std::pair<decltype(std::declval<Fn>()(std::declval<g::coordinator&>())), int16_t>>
run_durably(request_context& ctx, Fn fn) {
    std::vector<g::durable_mark> marks;
    int16_t write_error = error_code::none;
    auto out = ctx.b.groups->run(fn, marks, write_error, &ctx.executor);
    for (const auto& m : marks) {
        auto written = co_await m.answer->get();
        if (written.code != cluster::replicate_errc::none && write_error == error_code::none) {
            // Led elsewhere now, or a failed log: the client looks for the coordinator again.
            write_error = written.code == cluster::replicate_errc::timed_out
                              ? error_code::request_timed_out
                          : written.code == cluster::replicate_errc::not_leader
                              ? error_code::not_coordinator
                              : error_code::coordinator_not_available;
        }
    }
    co_return std::make_pair(std::move(out), write_error);
}

// Runs `fn` on the coordinator for an answer that does not wait for the group log: what it
// writes (group metadata) may be lost in a crash, which only makes members rejoin.
template <typename Fn>
auto run_unwaited(request_context& ctx, Fn fn) {
    std::vector<g::durable_mark> marks;
    int16_t write_error = error_code::none;
    return ctx.b.groups->run(fn, marks, write_error);
}

// The group log is created when a group first needs it (as Kafka does), so its partitions
// spread over the brokers that are up by then; with fewer of them than the replication factor
// asks (one node for development), it has as many replicas as there are brokers.
asio::awaitable<void> ensure_group_log(request_context& ctx) {
    if (ctx.b.partitions.topic(g::group_manager::log_topic)) co_return;
    cluster::controller_request create{.kind = cluster::request_kind::create_topic};
    create.topic = g::group_manager::log_topic;
    create.partitions = ctx.b.config.offsets_partitions;
    auto live = static_cast<int32_t>(live_brokers(*ctx.b.partitions.image()).size());
    create.replication_factor =
        static_cast<int16_t>(std::clamp(live, 1, ctx.b.config.offsets_replication_factor));
    if (create.replication_factor < ctx.b.config.offsets_replication_factor) {
        log::get("kafka")->info(
            "creating {} with {} replicas per partition: {} brokers are live "
            "(groups.offsets_replication_factor is {})",
            g::group_manager::log_topic, create.replication_factor, live,
            ctx.b.config.offsets_replication_factor);
    }
    create.configs = {{"cleanup.policy", "compact"}, {"segment.bytes", "104857600"}};
    auto answer = co_await ask_controller(ctx, std::move(create));
    if (answer.code != cluster::errc::none && answer.code != cluster::errc::topic_exists) {
        log::get("kafka")->warn("cannot create {}: {}", g::group_manager::log_topic,
                                answer.message);
    }
}

// NOT_COORDINATOR when another node coordinates the group (its group-log partition is
// there), COORDINATOR_LOAD_IN_PROGRESS while this node still loads it, else none. A client
// that skips FindCoordinator (raw tools) still finds the group log created.
asio::awaitable<int16_t> coordinator_error(request_context& ctx, const std::string& group_id) {
    co_await ensure_group_log(ctx);
    auto owner = ctx.b.groups->owner_of(group_id);
    if (owner == g::group_manager::ownership::loading) {
        // A new leader of the group-log partition loads within a Raft tick or two; clients
        // back off for long after COORDINATOR_LOAD_IN_PROGRESS, so a short load is awaited.
        auto wake = std::make_shared<net::async_event>(ctx.executor);
        auto until = std::chrono::steady_clock::now() + max_load_wait;
        while (owner == g::group_manager::ownership::loading &&
               std::chrono::steady_clock::now() < until) {
            co_await wake->wait_for(std::chrono::milliseconds(20));
            owner = ctx.b.groups->owner_of(group_id);
        }
    }
    switch (owner) {
        case g::group_manager::ownership::here:
            co_return error_code::none;
        case g::group_manager::ownership::loading:
            co_return error_code::coordinator_load_in_progress;
        case g::group_manager::ownership::elsewhere:
            co_return error_code::not_coordinator;
    }
    co_return error_code::not_coordinator;
}

std::string host_of(const request_context& ctx) {
    return "/" + ctx.client_host;
}

}  // namespace

asio::awaitable<p::find_coordinator_response> handle_find_coordinator(
    request_context& ctx, p::find_coordinator_request& req) {
    p::find_coordinator_response resp;
    auto fill = [&](int16_t& error, std::optional<std::string>& message, int32_t& node,
                    std::string& host, int32_t& port, int8_t key_type, const std::string& key) {
        if (key_type != group_key_type) {
            // No transactions yet. COORDINATOR_NOT_AVAILABLE would be retried until the
            // client's timeout (10-120 s); this code makes librdkafka, KafkaJS and the Java
            // client fail at once, with the message where they show one.
            error = error_code::transactional_id_authorization_failed;
            message = transactions_unsupported;
            node = -1;
            port = -1;
            return;
        }
        // The coordinator is the leader of the group's group-log partition: it moves with
        // that partition's leadership.
        node = -1;
        port = -1;
        auto img = ctx.b.partitions.image();
        const auto* log = img->find_topic(g::group_manager::log_topic);
        if (log == nullptr) {
            error = error_code::coordinator_not_available;
            return;
        }
        int32_t partition = ctx.b.groups->partition_for(key);
        auto state = ctx.b.partitions.state_of(*img, *log, partition);
        auto leader = img->brokers.find(state.leader);
        if (leader == img->brokers.end() || leader->second.fenced) {
            error = error_code::coordinator_not_available;
            return;
        }
        node = leader->first;
        host = leader->second.kafka.host;
        port = leader->second.kafka.port;
    };
    if (req.key_type == group_key_type) {
        co_await ensure_group_log(ctx);
    }
    if (ctx.version() < 4) {
        fill(resp.error_code, resp.error_message, resp.node_id, resp.host, resp.port, req.key_type,
             req.key);
        co_return resp;
    }
    for (const auto& key : req.coordinator_keys) {
        auto& c = resp.coordinators.emplace_back();
        c.key = key;
        fill(c.error_code, c.error_message, c.node_id, c.host, c.port, req.key_type, key);
    }
    co_return resp;
}

asio::awaitable<p::join_group_response> handle_join_group(request_context& ctx,
                                                          p::join_group_request& req) {
    if (int16_t code = co_await coordinator_error(ctx, req.group_id); code != error_code::none) {
        p::join_group_response resp;
        resp.error_code = code;
        resp.member_id = req.member_id;
        if (ctx.version() < 7) resp.protocol_name = "";
        co_return resp;
    }
    g::join_request jr;
    jr.group_id = req.group_id;
    jr.member_id = req.member_id;
    jr.group_instance_id = req.group_instance_id;
    jr.client_id = ctx.frame.header.client_id.value_or("");
    jr.client_host = host_of(ctx);
    jr.session_timeout_ms = req.session_timeout_ms;
    jr.rebalance_timeout_ms = req.rebalance_timeout_ms;
    jr.protocol_type = req.protocol_type;
    for (auto& proto : req.protocols)
        jr.protocols.emplace_back(proto.name, std::move(proto.metadata));
    jr.require_known_member_id = ctx.version() >= 4;
    jr.supports_skip_assignment = ctx.version() >= 9;
    auto answer = std::make_shared<net::later<g::join_response>>(ctx.executor);
    run_unwaited(ctx, [&](g::coordinator& c) {
        c.join(std::move(jr), wall_clock_ms(),
               [answer](g::join_response r) { answer->set(std::move(r)); });
        return 0;
    });
    auto r = co_await answer->get();
    p::join_group_response resp;
    resp.error_code = r.error_code;
    resp.generation_id = r.generation;
    resp.protocol_type = r.protocol_type;
    resp.protocol_name = r.protocol_name;
    // Before v7 the protocol name is not nullable: an error answer carries "".
    if (ctx.version() < 7 && !resp.protocol_name) resp.protocol_name = "";
    resp.leader = r.leader;
    resp.member_id = r.member_id;
    resp.skip_assignment = r.skip_assignment;
    for (auto& m : r.members) {
        resp.members.push_back({m.member_id, m.group_instance_id, std::move(m.metadata), {}});
    }
    co_return resp;
}

asio::awaitable<p::sync_group_response> handle_sync_group(request_context& ctx,
                                                          p::sync_group_request& req) {
    if (int16_t code = co_await coordinator_error(ctx, req.group_id); code != error_code::none) {
        p::sync_group_response resp;
        resp.error_code = code;
        co_return resp;
    }
    g::sync_request sr;
    sr.group_id = req.group_id;
    sr.member_id = req.member_id;
    sr.group_instance_id = req.group_instance_id;
    sr.generation = req.generation_id;
    sr.protocol_type = req.protocol_type;
    sr.protocol_name = req.protocol_name;
    for (auto& a : req.assignments)
        sr.assignments.emplace_back(a.member_id, std::move(a.assignment));
    auto answer = std::make_shared<net::later<g::sync_response>>(ctx.executor);
    run_unwaited(ctx, [&](g::coordinator& c) {
        c.sync(std::move(sr), wall_clock_ms(),
               [answer](g::sync_response r) { answer->set(std::move(r)); });
        return 0;
    });
    auto r = co_await answer->get();
    p::sync_group_response resp;
    resp.error_code = r.error_code;
    resp.protocol_type = r.protocol_type;
    resp.protocol_name = r.protocol_name;
    resp.assignment = std::move(r.assignment);
    co_return resp;
}

asio::awaitable<p::heartbeat_response> handle_heartbeat(request_context& ctx,
                                                        p::heartbeat_request& req) {
    p::heartbeat_response resp;
    if (int16_t code = co_await coordinator_error(ctx, req.group_id); code != error_code::none) {
        resp.error_code = code;
        co_return resp;
    }
    resp.error_code = run_unwaited(ctx, [&](g::coordinator& c) {
        return c.heartbeat(req.group_id, {req.member_id, req.group_instance_id}, req.generation_id,
                           wall_clock_ms());
    });
    co_return resp;
}

asio::awaitable<p::leave_group_response> handle_leave_group(request_context& ctx,
                                                            p::leave_group_request& req) {
    if (int16_t code = co_await coordinator_error(ctx, req.group_id); code != error_code::none) {
        p::leave_group_response resp;
        resp.error_code = code;
        co_return resp;
    }
    std::vector<g::member_identity> leaving;
    if (ctx.version() < 3) {
        leaving.push_back({req.member_id, std::nullopt});
    } else {
        for (const auto& m : req.members)
            leaving.push_back({m.member_id, m.group_instance_id});
    }
    auto codes = run_unwaited(
        ctx, [&](g::coordinator& c) { return c.leave(req.group_id, leaving, wall_clock_ms()); });
    p::leave_group_response resp;
    if (ctx.version() < 3) {
        resp.error_code = codes.empty() ? error_code::none : codes.front();
        co_return resp;
    }
    for (size_t i = 0; i < leaving.size(); ++i) {
        resp.members.push_back({leaving[i].member_id, leaving[i].group_instance_id, codes[i], {}});
    }
    co_return resp;
}

asio::awaitable<p::offset_commit_response> handle_offset_commit(request_context& ctx,
                                                                p::offset_commit_request& req) {
    p::offset_commit_response resp;
    if (int16_t code = co_await coordinator_error(ctx, req.group_id); code != error_code::none) {
        for (const auto& topic : req.topics) {
            auto& topic_out = resp.topics.emplace_back();
            topic_out.name = topic.name;
            for (const auto& part : topic.partitions) {
                topic_out.partitions.push_back({part.partition_index, code, {}});
            }
        }
        co_return resp;
    }
    g::offset_commit_request cr;
    cr.group_id = req.group_id;
    cr.member_id = req.member_id;
    cr.group_instance_id = req.group_instance_id;
    cr.generation = ctx.version() == 0 ? -1 : req.generation_id_or_member_epoch;
    int64_t now = wall_clock_ms();
    // Where each partition's answer goes: index into cr.offsets, or an error decided here.
    std::vector<std::pair<int16_t, size_t>> slots;
    for (const auto& topic : req.topics) {
        for (const auto& part : topic.partitions) {
            // Offsets may be committed for any partition of the cluster, wherever it is served.
            if (missing_partition_error(ctx.b, topic.name, part.partition_index) ==
                error_code::unknown_topic_or_partition) {
                slots.emplace_back(error_code::unknown_topic_or_partition, 0);
                continue;
            }
            g::committed_offset v;
            v.offset = part.committed_offset;
            v.leader_epoch = part.committed_leader_epoch;
            v.metadata = part.committed_metadata.value_or("");
            v.commit_timestamp_ms =
                ctx.version() == 1 && part.commit_timestamp >= 0 ? part.commit_timestamp : now;
            slots.emplace_back(error_code::none, cr.offsets.size());
            cr.offsets.emplace_back(g::topic_partition{topic.name, part.partition_index},
                                    std::move(v));
        }
    }
    auto [codes, write_error] =
        co_await run_durably(ctx, [&](g::coordinator& c) { return c.commit_offsets(cr, now); });
    size_t slot = 0;
    for (const auto& topic : req.topics) {
        auto& topic_out = resp.topics.emplace_back();
        topic_out.name = topic.name;
        for (const auto& part : topic.partitions) {
            auto [decided, index] = slots[slot++];
            int16_t code = decided != error_code::none ? decided : codes[index];
            if (code == error_code::none) code = write_error;
            topic_out.partitions.push_back({part.partition_index, code, {}});
        }
    }
    co_return resp;
}

namespace {

template <typename TopicOut>
void fill_offsets(const std::vector<std::pair<g::topic_partition, g::committed_offset>>& found,
                  std::vector<TopicOut>& out) {
    for (const auto& [tp, v] : found) {
        if (out.empty() || out.back().name != tp.topic) out.emplace_back().name = tp.topic;
        auto& po = out.back().partitions.emplace_back();
        po.partition_index = tp.partition;
        po.committed_offset = v.offset;
        po.committed_leader_epoch = v.leader_epoch;
        po.metadata = v.metadata;
    }
}

template <typename Topics>
std::optional<std::vector<g::topic_partition>> wanted(const std::optional<Topics>& topics) {
    if (!topics) return std::nullopt;
    std::vector<g::topic_partition> out;
    for (const auto& t : *topics) {
        for (int32_t partition : t.partition_indexes)
            out.push_back({t.name, partition});
    }
    return out;
}

}  // namespace

asio::awaitable<p::offset_fetch_response> handle_offset_fetch(request_context& ctx,
                                                              p::offset_fetch_request& req) {
    p::offset_fetch_response resp;
    auto fetch = [&](const std::string& group, auto partitions) {
        return run_unwaited(ctx,
                            [&](g::coordinator& c) { return c.fetch_offsets(group, partitions); });
    };
    if (ctx.version() < 8) {
        if (int16_t code = co_await coordinator_error(ctx, req.group_id);
            code != error_code::none) {
            resp.error_code = code;  // v2+; v0 and v1 see it per partition
            for (const auto& t : req.topics.value_or(decltype(req.topics)::value_type{})) {
                auto& topic_out = resp.topics.emplace_back();
                topic_out.name = t.name;
                for (int32_t partition : t.partition_indexes) {
                    auto& po = topic_out.partitions.emplace_back();
                    po.partition_index = partition;
                    po.committed_offset = -1;
                    po.error_code = code;
                }
            }
            co_return resp;
        }
        // v0 and v1 always name partitions; null (all) is v2+.
        fill_offsets(fetch(req.group_id, wanted(req.topics)), resp.topics);
        co_return resp;
    }
    for (const auto& group : req.groups) {
        auto& out = resp.groups.emplace_back();
        out.group_id = group.group_id;
        if (int16_t code = co_await coordinator_error(ctx, group.group_id);
            code != error_code::none) {
            out.error_code = code;
            continue;
        }
        fill_offsets(fetch(group.group_id, wanted(group.topics)), out.topics);
    }
    co_return resp;
}

asio::awaitable<p::list_groups_response> handle_list_groups(request_context& ctx,
                                                            p::list_groups_request& req) {
    auto groups = run_unwaited(ctx, [](g::coordinator& c) { return c.list(); });
    auto lower = [](std::string_view s) {
        std::string out(s);
        std::ranges::transform(out, out.begin(), [](unsigned char ch) { return std::tolower(ch); });
        return out;
    };
    p::list_groups_response resp;
    for (const auto& listing : groups) {
        std::string state(g::state_name(listing.state));
        if (!req.states_filter.empty() &&
            std::ranges::none_of(req.states_filter,
                                 [&](const auto& f) { return lower(f) == lower(state); })) {
            continue;
        }
        resp.groups.push_back({listing.group_id, listing.protocol_type, state, "classic", {}});
    }
    co_return resp;
}

asio::awaitable<p::describe_groups_response> handle_describe_groups(
    request_context& ctx, p::describe_groups_request& req) {
    p::describe_groups_response resp;
    for (const auto& id : req.groups) {
        if (int16_t code = co_await coordinator_error(ctx, id); code != error_code::none) {
            auto& out = resp.groups.emplace_back();
            out.error_code = code;
            out.group_id = id;
            continue;
        }
        auto d = run_unwaited(ctx, [&](g::coordinator& c) { return c.describe(id); });
        auto& out = resp.groups.emplace_back();
        out.error_code = d.error_code;
        out.group_id = id;
        out.group_state = g::state_name(d.state);
        out.protocol_type = d.protocol_type;
        out.protocol_data = d.protocol;
        for (auto& m : d.members) {
            out.members.push_back({m.member_id,
                                   m.group_instance_id,
                                   m.client_id,
                                   m.client_host,
                                   std::move(m.metadata),
                                   std::move(m.assignment),
                                   {}});
        }
    }
    co_return resp;
}

asio::awaitable<p::delete_groups_response> handle_delete_groups(request_context& ctx,
                                                                p::delete_groups_request& req) {
    p::delete_groups_response resp;
    for (const auto& id : req.groups_names) {
        if (int16_t code = co_await coordinator_error(ctx, id); code != error_code::none) {
            resp.results.push_back({id, code, {}});
            continue;
        }
        auto [code, write_error] = co_await run_durably(
            ctx, [&](g::coordinator& c) { return c.delete_group(id, wall_clock_ms()); });
        resp.results.push_back({id, code != error_code::none ? code : write_error, {}});
    }
    co_return resp;
}

asio::awaitable<p::offset_delete_response> handle_offset_delete(request_context& ctx,
                                                                p::offset_delete_request& req) {
    p::offset_delete_response resp;
    if (int16_t code = co_await coordinator_error(ctx, req.group_id); code != error_code::none) {
        resp.error_code = code;
        co_return resp;
    }
    std::vector<g::topic_partition> partitions;
    for (const auto& t : req.topics) {
        for (const auto& part : t.partitions)
            partitions.push_back({t.name, part.partition_index});
    }
    std::vector<int16_t> per_partition;
    auto [code, write_error] = co_await run_durably(ctx, [&](g::coordinator& c) {
        return c.delete_offsets(req.group_id, partitions, per_partition, wall_clock_ms());
    });
    resp.error_code = code != error_code::none ? code : write_error;
    if (resp.error_code != error_code::none) co_return resp;
    size_t i = 0;
    for (const auto& t : req.topics) {
        auto& out = resp.topics.emplace_back();
        out.name = t.name;
        for (const auto& part : t.partitions) {
            int16_t pc = missing_partition_error(ctx.b, t.name, part.partition_index) !=
                                 error_code::unknown_topic_or_partition
                             ? per_partition[i]
                             : error_code::unknown_topic_or_partition;
            out.partitions.push_back({part.partition_index, pc, {}});
            ++i;
        }
    }
    co_return resp;
}

}  // namespace trib::kafka
