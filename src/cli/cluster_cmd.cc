// trib cluster info | health, trib broker list: what Metadata tells about the cluster.
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/kafka.h"
#include "cli/output.h"

namespace trib::cli {

namespace {

nlohmann::json brokers_json(const cluster_info& c) {
    auto out = nlohmann::json::array();
    for (const broker_info& b : c.brokers) {
        out.push_back({{"id", b.id},
                       {"host", b.host},
                       {"port", b.port},
                       {"controller", b.id == c.controller}});
    }
    return out;
}

std::string brokers_table(const cluster_info& c) {
    table t({"id", "address", "controller"});
    for (const broker_info& b : c.brokers) {
        t.add({std::to_string(b.id), fmt::format("{}:{}", b.host, b.port),
               b.id == c.controller ? "yes" : ""});
    }
    return t.render();
}

outcome<> broker_list(const options& opts) {
    auto k = TRIB_TRY(kafka::connect(opts));
    auto c = TRIB_TRY(k.metadata());
    if (opts.format == output_format::json) {
        print_json(brokers_json(c));
    } else {
        fmt::print("{}", brokers_table(c));
    }
    return {};
}

outcome<> cluster_info_cmd(const options& opts) {
    auto k = TRIB_TRY(kafka::connect(opts));
    auto c = TRIB_TRY(k.metadata());
    size_t partitions = 0;
    for (const topic_info& t : c.topics) {
        partitions += t.partitions.size();
    }
    if (opts.format == output_format::json) {
        print_json({{"cluster_id", c.cluster_id},
                    {"controller", c.controller},
                    {"brokers", brokers_json(c)},
                    {"topics", c.topics.size()},
                    {"partitions", partitions}});
        return {};
    }
    fmt::print("cluster     {}\ncontroller  {}\ntopics      {} ({} partitions)\n\n{}", c.cluster_id,
               c.controller, c.topics.size(), partitions, brokers_table(c));
    return {};
}

// Healthy: a controller is known, every broker named in an assignment is live, every partition
// has a leader and all its replicas in sync. Exit 1 otherwise, so scripts can wait on it.
outcome<> cluster_health(const options& opts) {
    auto k = TRIB_TRY(kafka::connect(opts));
    auto c = TRIB_TRY(k.metadata());
    std::set<int32_t> live;
    for (const broker_info& b : c.brokers) {
        live.insert(b.id);
    }
    std::set<int32_t> down;
    std::vector<std::string> leaderless;
    std::vector<std::string> under_replicated;
    for (const topic_info& t : c.topics) {
        for (const partition_info& p : t.partitions) {
            std::string name = fmt::format("{}-{}", t.name, p.id);
            for (int32_t r : p.replicas) {
                if (!live.contains(r)) {
                    down.insert(r);
                }
            }
            if (p.leader < 0) {
                leaderless.push_back(name);
            } else if (p.isr.size() < p.replicas.size()) {
                under_replicated.push_back(name);
            }
        }
    }
    bool healthy =
        c.controller >= 0 && down.empty() && leaderless.empty() && under_replicated.empty();
    if (opts.format == output_format::json) {
        print_json({{"healthy", healthy},
                    {"controller", c.controller},
                    {"live_brokers", live},
                    {"down_brokers", down},
                    {"leaderless_partitions", leaderless},
                    {"under_replicated_partitions", under_replicated}});
    } else {
        auto list = [](const auto& items) {
            return items.empty() ? std::string("-") : fmt::format("{}", fmt::join(items, " "));
        };
        fmt::print(
            "healthy                      {}\ncontroller                   {}\nlive brokers        "
            "         {}\ndown brokers                 {}\nleaderless partitions        {}\n"
            "under-replicated partitions  {}\n",
            healthy ? "yes" : "no", c.controller >= 0 ? std::to_string(c.controller) : "none",
            list(live), list(down), list(leaderless), list(under_replicated));
    }
    if (!healthy) {
        return fail("the cluster is not healthy");
    }
    return {};
}

}  // namespace

void add_cluster_commands(CLI::App& app, context& ctx) {
    auto* cluster = app.add_subcommand("cluster", "The cluster as a whole");
    cluster->require_subcommand(1);
    cluster->add_subcommand("info", "Cluster id, controller, brokers, topic and partition counts")
        ->callback([&ctx] { ctx.run = [&ctx] { return cluster_info_cmd(ctx.opts); }; });
    cluster
        ->add_subcommand("health",
                         "Whether every partition has a leader and all replicas in sync "
                         "(exit 1 if not)")
        ->callback([&ctx] { ctx.run = [&ctx] { return cluster_health(ctx.opts); }; });

    auto* broker = app.add_subcommand("broker", "The brokers");
    broker->require_subcommand(1);
    broker->add_subcommand("list", "Live brokers and their Kafka addresses")->callback([&ctx] {
        ctx.run = [&ctx] { return broker_list(ctx.opts); };
    });
    add_broker_admin_commands(*broker, ctx);
}

}  // namespace trib::cli
