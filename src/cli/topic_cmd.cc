// trib topic create | list | describe | delete | add-partitions | alter-config.
#include <array>
#include <map>
#include <optional>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/kafka.h"
#include "cli/output.h"
#include "cli/raw_call.h"

namespace trib::cli {

namespace {

struct topic_args {
    std::vector<std::string> names;
    int32_t partitions = -1;  // -1: the broker's default
    int32_t replicas = -1;
    std::vector<std::string> configs;  // name=value
    std::vector<std::string> remove;   // alter-config: names back to their default
    bool dry_run = false;
    bool internal = false;
};

// The per-topic results of CreateTopics / DeleteTopics / CreatePartitions: each topic's
// outcome printed, the first failure returned.
outcome<> report_topics(const options& opts, const rd_kafka_topic_result_t** results, size_t n,
                        const char* done) {
    std::optional<failure> first;
    auto json = nlohmann::json::array();
    table t({"topic", "status"});
    for (size_t i = 0; i < n; ++i) {
        std::string name = rd_kafka_topic_result_name(results[i]);
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
        std::string status = done;
        if (err) {
            failure f =
                item_failure(name, err, rd_kafka_topic_result_error_string(results[i]), opts);
            status = f.message;
            if (!first) first = f;
        }
        t.add({name, status});
        json.push_back(
            {{"topic", name},
             {"error", err ? nlohmann::json(rd_kafka_err2name(err)) : nlohmann::json(nullptr)},
             {"status", status}});
    }
    if (opts.format == output_format::json) {
        print_json(json);
    } else {
        fmt::print("{}", t.render());
    }
    if (first) {
        return unexpected(*first);
    }
    return {};
}

outcome<> create(const options& opts, const topic_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    std::vector<std::unique_ptr<rd_kafka_NewTopic_t, void (*)(rd_kafka_NewTopic_t*)>> topics;
    for (const std::string& name : a.names) {
        std::array<char, 256> err{};
        rd_kafka_NewTopic_t* nt =
            rd_kafka_NewTopic_new(name.c_str(), a.partitions, a.replicas, err.data(), err.size());
        if (nt == nullptr) {
            return fail(fmt::format("topic {}: {}", name, err.data()), exit_code::usage);
        }
        topics.emplace_back(nt, rd_kafka_NewTopic_destroy);
        for (const std::string& c : a.configs) {
            auto kv = TRIB_TRY(split_assignment(c, "--config"));
            rd_kafka_NewTopic_set_config(nt, kv.first.c_str(), kv.second.c_str());
        }
    }
    std::vector<rd_kafka_NewTopic_t*> raw;
    raw.reserve(topics.size());
    for (auto& t : topics)
        raw.push_back(t.get());
    auto ev = TRIB_TRY(k.admin(
        RD_KAFKA_ADMIN_OP_CREATETOPICS, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
        [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
            std::array<char, 256> err{};
            rd_kafka_AdminOptions_set_validate_only(o, a.dry_run ? 1 : 0, err.data(), err.size());
            rd_kafka_CreateTopics(rk, raw.data(), raw.size(), o, q);
        }));
    size_t n = 0;
    auto* results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
    return report_topics(opts, results, n, a.dry_run ? "valid (dry run: not created)" : "created");
}

outcome<> remove(const options& opts, const topic_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    std::vector<rd_kafka_DeleteTopic_t*> raw;
    for (const std::string& name : a.names)
        raw.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
    auto ev = k.admin(RD_KAFKA_ADMIN_OP_DELETETOPICS, RD_KAFKA_EVENT_DELETETOPICS_RESULT,
                      [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                          rd_kafka_DeleteTopics(rk, raw.data(), raw.size(), o, q);
                      });
    rd_kafka_DeleteTopic_destroy_array(raw.data(), raw.size());
    if (!ev) {
        return unexpected(ev.error());
    }
    size_t n = 0;
    auto* results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev->get()), &n);
    return report_topics(opts, results, n, "deleted");
}

outcome<> add_partitions(const options& opts, const topic_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    std::array<char, 256> err{};
    rd_kafka_NewPartitions_t* np =
        rd_kafka_NewPartitions_new(a.names.front().c_str(), a.partitions, err.data(), err.size());
    if (np == nullptr) {
        return fail(fmt::format("--total: {}", err.data()), exit_code::usage);
    }
    auto ev = k.admin(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT,
                      [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                          rd_kafka_CreatePartitions(rk, &np, 1, o, q);
                      });
    rd_kafka_NewPartitions_destroy(np);
    if (!ev) {
        return unexpected(ev.error());
    }
    size_t n = 0;
    auto* results = rd_kafka_CreatePartitions_result_topics(
        rd_kafka_event_CreatePartitions_result(ev->get()), &n);
    return report_topics(opts, results, n, fmt::format("now {} partitions", a.partitions).c_str());
}

outcome<> list(const options& opts, const topic_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    auto c = TRIB_TRY(k.metadata());
    table t({"topic", "partitions", "replicas"});
    auto json = nlohmann::json::array();
    for (const topic_info& ti : c.topics) {
        if (ti.internal() && !a.internal) {
            continue;
        }
        size_t rf = ti.partitions.empty() ? 0 : ti.partitions.front().replicas.size();
        t.add({ti.name, std::to_string(ti.partitions.size()), std::to_string(rf)});
        json.push_back(
            {{"topic", ti.name}, {"partitions", ti.partitions.size()}, {"replicas", rf}});
    }
    if (opts.format == output_format::json) {
        print_json(json);
    } else {
        fmt::print("{}", t.render());
    }
    return {};
}

outcome<> describe(const options& opts, const topic_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    const std::string& name = a.names.front();
    auto c = TRIB_TRY(k.metadata(&name));
    const topic_info& ti = c.topics.front();
    auto configs = TRIB_TRY(k.topic_configs(name));
    // Sizes come from every broker (DescribeLogDirs); the table shows the leader's replica.
    std::vector<int32_t> silent;
    auto sizes = replica_sizes(c, name, std::chrono::milliseconds(opts.timeout_ms()), &silent);
    table parts({"partition", "leader", "replicas", "isr", "offline", "log-start", "high-watermark",
                 "size"});
    auto pjson = nlohmann::json::array();
    std::set<int32_t> live;
    for (const broker_info& b : c.brokers)
        live.insert(b.id);
    for (const partition_info& p : ti.partitions) {
        std::vector<int32_t> offline;
        for (int32_t r : p.replicas) {
            if (!live.contains(r)) offline.push_back(r);
        }
        watermarks w;
        std::string low = "-";
        std::string high = "-";
        if (p.leader >= 0) {
            // A partition without a leader has no offsets to tell; shown as "-".
            if (auto got = k.query_watermarks(name, p.id)) {
                w = *got;
                low = std::to_string(w.low);
                high = std::to_string(w.high);
            }
        }
        nlohmann::json replica_sizes_json = nlohmann::json::object();
        for (int32_t r : p.replicas) {
            auto it = sizes.find({p.id, r});
            if (it != sizes.end()) replica_sizes_json[std::to_string(r)] = it->second;
        }
        auto leader_size = sizes.find({p.id, p.leader});
        parts.add({std::to_string(p.id), p.leader >= 0 ? std::to_string(p.leader) : "none",
                   join_ids(p.replicas), join_ids(p.isr), offline.empty() ? "" : join_ids(offline),
                   low, high, leader_size == sizes.end() ? "-" : human_bytes(leader_size->second)});
        pjson.push_back({{"partition", p.id},
                         {"size_bytes", replica_sizes_json},
                         {"leader", p.leader},
                         {"replicas", p.replicas},
                         {"isr", p.isr},
                         {"offline_replicas", offline},
                         {"log_start_offset", w.low},
                         {"high_watermark", w.high}});
    }
    table cfg({"setting", "value", "source"});
    nlohmann::json cjson = nlohmann::json::object();
    for (const config_entry& e : configs) {
        std::string value = e.sensitive ? "(hidden)" : e.value;
        cjson[e.name] = {{"value", value}, {"default", e.is_default}};
        if (!e.is_default) cfg.add({e.name, value, "topic"});
    }
    if (opts.format == output_format::json) {
        print_json({{"topic", name}, {"partitions", pjson}, {"configs", cjson}});
        return {};
    }
    size_t rf = ti.partitions.empty() ? 0 : ti.partitions.front().replicas.size();
    fmt::print("topic       {}\npartitions  {}\nreplicas    {}\n\n{}", name, ti.partitions.size(),
               rf, parts.render());
    fmt::print("\n{}",
               cfg.empty() ? "settings: all defaults (--format json lists them)\n" : cfg.render());
    if (!silent.empty()) {
        fmt::print(stderr, "sizes unknown for brokers {}: they did not answer DescribeLogDirs\n",
                   join_ids(silent));
    }
    return {};
}

// AlterConfigs replaces a topic's whole set of settings, so the settings set on the topic now
// are read first and carried over, with the changes applied (as kafka-configs did before
// IncrementalAlterConfigs). A change made by someone else in between can be undone.
outcome<> alter_config(const options& opts, const topic_args& a) {
    if (a.configs.empty() && a.remove.empty()) {
        return fail("nothing to change: give --set name=value or --delete name", exit_code::usage);
    }
    auto k = TRIB_TRY(kafka::connect(opts));
    const std::string& name = a.names.front();
    std::map<std::string, std::string> wanted;
    for (const config_entry& e : TRIB_TRY(k.topic_configs(name))) {
        if (!e.is_default && !e.read_only) wanted[e.name] = e.value;
    }
    for (const std::string& c : a.configs) {
        auto kv = TRIB_TRY(split_assignment(c, "--set"));
        wanted[kv.first] = kv.second;
    }
    for (const std::string& r : a.remove)
        wanted.erase(r);
    rd_kafka_ConfigResource_t* res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
    for (const auto& [n, v] : wanted)
        rd_kafka_ConfigResource_set_config(res, n.c_str(), v.c_str());
    auto ev = k.admin(RD_KAFKA_ADMIN_OP_ALTERCONFIGS, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT,
                      [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                          rd_kafka_AlterConfigs(rk, &res, 1, o, q);
                      });
    rd_kafka_ConfigResource_destroy(res);
    if (!ev) {
        return unexpected(ev.error());
    }
    size_t n = 0;
    const rd_kafka_ConfigResource_t** out =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev->get()), &n);
    for (size_t i = 0; i < n; ++i) {
        if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(out[i]); err) {
            return unexpected(
                item_failure(name, err, rd_kafka_ConfigResource_error_string(out[i]), opts));
        }
    }
    if (opts.format == output_format::json) {
        print_json({{"topic", name}, {"configs", wanted}});
    } else {
        table t({"setting", "value"});
        for (const auto& [n2, v] : wanted)
            t.add({n2, v});
        fmt::print("settings of {} changed; set on the topic now:\n{}", name,
                   wanted.empty() ? "(none: all defaults)\n" : t.render());
    }
    return {};
}

}  // namespace

void add_topic_commands(CLI::App& app, context& ctx) {
    auto a = std::make_shared<topic_args>();
    auto* topic = app.add_subcommand("topic", "Create, list, describe, change and delete topics");
    topic->require_subcommand(1);
    auto on = [&ctx, a](outcome<> (*fn)(const options&, const topic_args&)) {
        return [&ctx, a, fn] { ctx.run = [&ctx, a, fn] { return fn(ctx.opts, *a); }; };
    };

    auto* c = topic->add_subcommand("create", "Create topics");
    c->add_option("topics", a->names, "Topic names")->required();
    c->add_option("-p,--partitions", a->partitions, "Partitions (default: the broker's)")
        ->check(CLI::Range(1, 1000000));
    c->add_option("-r,--replicas", a->replicas, "Replication factor (default: the broker's)")
        ->check(CLI::Range(1, 32767));
    c->add_option("-c,--config", a->configs, "A topic setting, name=value (repeatable)");
    c->add_flag("--dry-run", a->dry_run, "Validate only: the broker checks it, creates nothing");
    c->callback(on(create));

    auto* l = topic->add_subcommand("list", "Topics with their partition and replica counts");
    l->add_flag("-i,--internal", a->internal, "Include internal topics (__consumer_offsets)");
    l->callback(on(list));

    auto* d = topic->add_subcommand(
        "describe",
        "Every partition's leader, replicas, ISR and offsets, and the topic's settings");
    d->add_option("topic", a->names, "Topic name")->required()->expected(1);
    d->callback(on(describe));

    auto* del = topic->add_subcommand("delete", "Delete topics and all their data");
    del->add_option("topics", a->names, "Topic names")->required();
    del->callback(on(remove));

    auto* ap = topic->add_subcommand("add-partitions", "Raise a topic's partition count");
    ap->add_option("topic", a->names, "Topic name")->required()->expected(1);
    ap->add_option("-n,--total", a->partitions, "The new total number of partitions")
        ->required()
        ->check(CLI::Range(1, 1000000));
    ap->callback(on(add_partitions));

    auto* ac = topic->add_subcommand("alter-config", "Set or reset a topic's settings");
    ac->add_option("topic", a->names, "Topic name")->required()->expected(1);
    ac->add_option("-s,--set", a->configs, "name=value (repeatable)");
    ac->add_option("-d,--delete", a->remove, "A setting back to its default (repeatable)");
    ac->callback(on(alter_config));
}

}  // namespace trib::cli
