// trib partition move | cancel-move | moves | transfer-leadership: moving a partition's
// replicas to other nodes and its leadership to another replica (Kafka's
// AlterPartitionReassignments and ListPartitionReassignments, which librdkafka 2.0.2 has no
// call for: sent by raw_call, encoded by the broker's own codecs).
#include <algorithm>
#include <chrono>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/kafka.h"
#include "cli/output.h"
#include "cli/raw_call.h"
#include "kafka/protocol/alter_partition_reassignments.h"
#include "kafka/protocol/list_partition_reassignments.h"
#include "kafka/protocol/wire.h"

namespace trib::cli {

namespace {

namespace p = ::trib::kafka::protocol;

struct partition_args {
    std::string topic;
    int32_t partition = 0;
    std::vector<int32_t> replicas;
    bool wait = false;
    double wait_timeout_s = 3600;
    int32_t leader = -1;             // transfer-leadership: the replica to lead
    double transfer_timeout_s = 60;  // how long transfer-leadership waits for it
};

struct move_state {
    std::string topic;
    int32_t partition = -1;
    std::vector<int32_t> replicas, adding, removing;
};

// Any live broker takes these requests (it forwards them to the controller).
outcome<broker_info> some_broker(const options& opts, const std::string& topic) {
    auto k = TRIB_TRY(kafka::connect(opts));
    auto c = TRIB_TRY(k.metadata(topic.empty() ? nullptr : &topic));
    if (c.brokers.empty()) return fail("the cluster named no live broker", exit_code::unreachable);
    return c.brokers.front();
}

template <typename Response, typename Request>
outcome<Response> call(const options& opts, const broker_info& b, const Request& req) {
    constexpr int16_t version = 0;  // the only one, flexible
    p::writer w;
    req.encode(w, version);
    auto body = TRIB_TRY(raw_call(b, Request::kafka_api_key, version, w.data(),
                                  std::chrono::milliseconds(opts.timeout_ms()), true));
    Response resp;
    p::reader r(body);
    resp.decode(r, version);
    if (!r.ok()) return fail(fmt::format("broker {} sent a malformed answer", b.id));
    return resp;
}

outcome<std::vector<move_state>> list_moves(const options& opts, const broker_info& b) {
    p::list_partition_reassignments_request req;
    req.timeout_ms = opts.timeout_ms();
    auto resp = TRIB_TRY((call<p::list_partition_reassignments_response>(opts, b, req)));
    if (resp.error_code != 0) {
        return unexpected(kafka_failure(static_cast<rd_kafka_resp_err_t>(resp.error_code),
                                        resp.error_message.value_or(""), opts));
    }
    std::vector<move_state> out;
    for (const auto& t : resp.topics) {
        for (const auto& part : t.partitions) {
            out.push_back({t.name, part.partition_index, part.replicas, part.adding_replicas,
                           part.removing_replicas});
        }
    }
    return out;
}

// Starts (replicas given) or cancels (none) the move of one partition.
outcome<> alter(const options& opts, const broker_info& b, const partition_args& a) {
    p::alter_partition_reassignments_request req;
    req.timeout_ms = opts.timeout_ms();
    auto& t = req.topics.emplace_back();
    t.name = a.topic;
    auto& part = t.partitions.emplace_back();
    part.partition_index = a.partition;
    if (!a.replicas.empty()) part.replicas = a.replicas;
    auto resp = TRIB_TRY((call<p::alter_partition_reassignments_response>(opts, b, req)));
    int16_t code = resp.error_code;
    std::string message = resp.error_message.value_or("");
    for (const auto& rt : resp.responses) {
        for (const auto& rp : rt.partitions) {
            if (rp.error_code != 0) {
                code = rp.error_code;
                message = rp.error_message.value_or("");
            }
        }
    }
    if (code != 0) {
        return unexpected(kafka_failure(static_cast<rd_kafka_resp_err_t>(code),
                                        fmt::format("{}-{}: {}", a.topic, a.partition, message),
                                        opts));
    }
    return {};
}

// Until the partition is no longer moving, with a progress line when it changes.
outcome<> wait_done(const options& opts, const broker_info& b, const partition_args& a) {
    return wait_with_progress(
        opts, a.wait_timeout_s,
        [&]() -> outcome<progress> {
            auto moves = TRIB_TRY(list_moves(opts, b));
            for (const auto& m : moves) {
                if (m.topic == a.topic && m.partition == a.partition) {
                    return progress{.line =
                                        fmt::format("{}-{}: replicas {}, adding {}, removing {}",
                                                    a.topic, a.partition, join_ids(m.replicas),
                                                    join_ids(m.adding), join_ids(m.removing))};
                }
            }
            return progress{.done = true, .line = fmt::format("{}-{}: done", a.topic, a.partition)};
        },
        "still moving (a replica it adds may be down; `trib partition cancel-move` undoes it)");
}

outcome<> move(const options& opts, const partition_args& a) {
    auto b = TRIB_TRY(some_broker(opts, a.topic));
    TRIB_TRY(alter(opts, b, a));
    if (opts.format == output_format::json) {
        if (a.wait) TRIB_TRY(wait_done(opts, b, a));
        print_json({{"topic", a.topic},
                    {"partition", a.partition},
                    {"replicas", a.replicas},
                    {"done", a.wait}});
        return {};
    }
    fmt::print("{}-{}: moving to replicas {}\n", a.topic, a.partition, join_ids(a.replicas));
    return a.wait ? wait_done(opts, b, a) : outcome<>{};
}

outcome<> cancel(const options& opts, const partition_args& a) {
    auto b = TRIB_TRY(some_broker(opts, a.topic));
    partition_args cancelled = a;
    cancelled.replicas.clear();
    TRIB_TRY(alter(opts, b, cancelled));
    if (opts.format == output_format::json) {
        print_json({{"topic", a.topic}, {"partition", a.partition}, {"cancelled", true}});
    } else {
        fmt::print("{}-{}: move cancelled, going back to its replicas\n", a.topic, a.partition);
    }
    return {};
}

outcome<> moves(const options& opts, const partition_args&) {
    auto b = TRIB_TRY(some_broker(opts, ""));
    auto all = TRIB_TRY(list_moves(opts, b));
    if (opts.format == output_format::json) {
        auto doc = nlohmann::json::array();
        for (const auto& m : all) {
            doc.push_back({{"topic", m.topic},
                           {"partition", m.partition},
                           {"replicas", m.replicas},
                           {"adding", m.adding},
                           {"removing", m.removing}});
        }
        print_json(doc);
        return {};
    }
    table t({"topic", "partition", "replicas", "adding", "removing"});
    for (const auto& m : all) {
        t.add({m.topic, std::to_string(m.partition), join_ids(m.replicas), join_ids(m.adding),
               join_ids(m.removing)});
    }
    if (t.empty()) {
        fmt::print("no partition is moving\n");
    } else {
        fmt::print("{}", t.render());
    }
    return {};
}

// The partition as Metadata shows it (leader, replicas), or why there is none.
outcome<partition_info> describe_partition(kafka& k, const options& opts, const std::string& topic,
                                           int32_t partition) {
    auto c = TRIB_TRY(k.metadata(&topic));
    for (const auto& t : c.topics) {
        if (t.name != topic) continue;
        if (t.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return unexpected(kafka_failure(t.error, fmt::format("topic '{}'", topic), opts));
        }
        for (const auto& part : t.partitions) {
            if (part.id == partition) return part;
        }
        return fail(fmt::format("topic '{}' has no partition {} (it has {})", topic, partition,
                                t.partitions.size()));
    }
    return unexpected(kafka_failure(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                    fmt::format("topic '{}'", topic), opts));
}

// Kafka's way to move leadership for good: the replica named becomes the first of the
// partition's replicas (its preferred leader, a reassignment that moves no data), and the
// leader hands over to it once it is caught up. Automatic rebalancing then keeps it there.
outcome<> transfer(const options& opts, const partition_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    auto now = TRIB_TRY(describe_partition(k, opts, a.topic, a.partition));
    if (std::find(now.replicas.begin(), now.replicas.end(), a.leader) == now.replicas.end()) {
        return fail(
            fmt::format("node {} holds no replica of {}-{} (its replicas: {}); `trib "
                        "partition move` gives it one",
                        a.leader, a.topic, a.partition, join_ids(now.replicas)));
    }
    auto first = [](int32_t id, const std::vector<int32_t>& replicas) {
        std::vector<int32_t> out{id};
        for (int32_t r : replicas) {
            if (r != id) out.push_back(r);
        }
        return out;
    };
    std::vector<int32_t> order = first(a.leader, now.replicas);
    // The preferred leaders to name in turn: a change of the first replica is what makes a
    // leader hand over at once. One already first but not leading (rebalancing is off, or
    // it was not caught up when named) is named again after the leader.
    std::vector<std::vector<int32_t>> steps;
    if (order != now.replicas) {
        steps.push_back(order);
    } else if (now.leader >= 0 && now.leader != a.leader) {
        steps = {first(now.leader, now.replicas), order};
    }
    if (!steps.empty()) {
        auto b = TRIB_TRY(some_broker(opts, a.topic));
        // A reorder would replace the target of a move under way (Metadata lists the
        // replicas it adds and leaves).
        for (const auto& m : TRIB_TRY(list_moves(opts, b))) {
            if (m.topic == a.topic && m.partition == a.partition) {
                return fail(
                    fmt::format("{}-{} is moving (adding {}, removing {}): wait for the "
                                "move (`trib partition moves`) or cancel it first",
                                a.topic, a.partition, join_ids(m.adding), join_ids(m.removing)));
            }
        }
        for (const auto& replicas : steps) {
            partition_args reorder = a;
            reorder.replicas = replicas;
            reorder.wait_timeout_s = a.transfer_timeout_s;
            TRIB_TRY(alter(opts, b, reorder));
            TRIB_TRY(wait_done(opts, b, reorder));
        }
    }
    auto handed_over = wait_with_progress(
        opts, a.transfer_timeout_s,
        [&]() -> outcome<progress> {
            auto p = TRIB_TRY(describe_partition(k, opts, a.topic, a.partition));
            std::string leader = p.leader < 0 ? "none" : std::to_string(p.leader);
            if (p.leader == a.leader) {
                return progress{
                    .done = true,
                    .line = fmt::format("{}-{}: led by node {}", a.topic, a.partition, leader)};
            }
            return progress{.line = fmt::format("{}-{}: led by node {}, handing over to node {}",
                                                a.topic, a.partition, leader, a.leader)};
        },
        fmt::format("node {} has not taken over (it must be live and caught up; `trib topic "
                    "describe {}` shows its replicas in sync); it is the preferred leader now: "
                    "automatic rebalancing hands it over once it can, or run this again",
                    a.leader, a.topic));
    if (!handed_over) return unexpected(handed_over.error());
    if (opts.format == output_format::json) {
        print_json({{"topic", a.topic},
                    {"partition", a.partition},
                    {"leader", a.leader},
                    {"replicas", order}});
    } else {
        fmt::print("{}-{}: led by node {}, replicas {}\n", a.topic, a.partition, a.leader,
                   join_ids(order));
    }
    return {};
}

}  // namespace

void add_partition_commands(CLI::App& app, context& ctx) {
    auto a = std::make_shared<partition_args>();
    auto* part = app.add_subcommand("partition", "Move partitions between nodes");
    part->require_subcommand(1);
    auto on = [&ctx, a](outcome<> (*fn)(const options&, const partition_args&)) {
        return [&ctx, a, fn] { ctx.run = [&ctx, a, fn] { return fn(ctx.opts, *a); }; };
    };
    auto* m = part->add_subcommand(
        "move",
        "Move a partition's replicas to other nodes (the first becomes its preferred "
        "leader); it stays available throughout");
    m->add_option("topic", a->topic, "Topic name")->required();
    m->add_option("partition", a->partition, "Partition")
        ->required()
        ->check(CLI::NonNegativeNumber);
    m->add_option("--to", a->replicas, "The new replicas, node ids: 4,2,3")
        ->required()
        ->delimiter(',')
        ->check(CLI::NonNegativeNumber);
    m->add_flag("--wait", a->wait, "Wait until the move is done, with progress on stderr");
    m->add_option("--wait-timeout", a->wait_timeout_s, "Seconds --wait waits at most")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    m->callback(on(move));

    auto* c =
        part->add_subcommand("cancel-move", "Cancel a move under way: back to the replicas it had");
    c->add_option("topic", a->topic, "Topic name")->required();
    c->add_option("partition", a->partition, "Partition")
        ->required()
        ->check(CLI::NonNegativeNumber);
    c->callback(on(cancel));

    auto* l = part->add_subcommand("moves", "The moves under way, with what each adds and removes");
    l->callback(on(moves));

    auto* t = part->add_subcommand(
        "transfer-leadership",
        "Make a replica the partition's leader: it becomes the preferred leader (first of the "
        "replicas, so rebalancing keeps it there) and takes over once caught up; waits for it");
    t->add_option("topic", a->topic, "Topic name")->required();
    t->add_option("partition", a->partition, "Partition")
        ->required()
        ->check(CLI::NonNegativeNumber);
    t->add_option("--to", a->leader, "The node to lead it (one of its replicas)")
        ->required()
        ->check(CLI::NonNegativeNumber);
    t->add_option("--wait-timeout", a->transfer_timeout_s, "Seconds to wait for the handover")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    t->callback(on(transfer));
}

}  // namespace trib::cli
