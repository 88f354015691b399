// trib broker decommission | recommission: through a node's admin HTTP API (the Kafka protocol
// has no request for it). The controller moves the broker's replicas away a few at a time.
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/admin_http.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace trib::cli {

namespace {

struct broker_args {
    int32_t id = -1;
    bool wait = false;
    double wait_timeout_s = 3600;
};

std::string broker_path(int32_t id) {
    return fmt::format("/v1/brokers/{}/decommission", id);
}

// How many replicas the cluster still places on the broker (moves leaving it included).
outcome<int64_t> replicas_on(const options& opts, int32_t id) {
    auto brokers = TRIB_TRY(admin_call(opts, http_method::get, "/v1/brokers"));
    for (const auto& b : brokers) {
        if (b.is_object() && b.contains("id") && b["id"] == id) {
            if (b.contains("replicas") && b["replicas"].is_number_integer())
                return b["replicas"].get<int64_t>();
            return fail(fmt::format("GET /v1/brokers: no replica count for broker {}", id));
        }
    }
    return fail(fmt::format("broker {} is not registered in the cluster", id));
}

outcome<> wait_drained(const options& opts, const broker_args& a) {
    return wait_with_progress(
        opts, a.wait_timeout_s,
        [&]() -> outcome<progress> {
            int64_t left = TRIB_TRY(replicas_on(opts, a.id));
            if (left == 0)
                return progress{.done = true, .line = fmt::format("broker {}: drained", a.id)};
            return progress{.line = fmt::format("broker {}: {} replicas left", a.id, left)};
        },
        fmt::format("the other live brokers may be too few for a topic's replication factor; "
                    "`trib broker recommission {}` undoes it",
                    a.id));
}

outcome<> decommission(const options& opts, const broker_args& a) {
    auto answer = TRIB_TRY(admin_call(opts, http_method::post, broker_path(a.id)));
    if (a.wait) TRIB_TRY(wait_drained(opts, a));
    if (opts.format == output_format::json) {
        answer["done"] = a.wait;
        print_json(answer);
    } else {
        fmt::print("broker {}: decommissioning; its replicas move to the other brokers{}\n", a.id,
                   a.wait ? " (done)" : "");
    }
    return {};
}

outcome<> recommission(const options& opts, const broker_args& a) {
    auto answer = TRIB_TRY(admin_call(opts, http_method::del, broker_path(a.id)));
    if (opts.format == output_format::json) {
        print_json(answer);
    } else {
        fmt::print("broker {}: back in service; new replicas may be placed on it\n", a.id);
    }
    return {};
}

}  // namespace

void add_broker_admin_commands(CLI::App& broker, context& ctx) {
    auto a = std::make_shared<broker_args>();
    auto on = [&ctx, a](outcome<> (*fn)(const options&, const broker_args&)) {
        return [&ctx, a, fn] { ctx.run = [&ctx, a, fn] { return fn(ctx.opts, *a); }; };
    };
    auto* d = broker.add_subcommand(
        "decommission",
        "Move every replica off a broker, a few partitions at a time, so it can be removed "
        "(through the admin API: --admin)");
    d->add_option("id", a->id, "Broker (node) id")->required()->check(CLI::NonNegativeNumber);
    d->add_flag("--wait", a->wait, "Wait until no replica is left on it, with progress on stderr");
    d->add_option("--wait-timeout", a->wait_timeout_s, "Seconds --wait waits at most")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    d->callback(on(decommission));

    auto* r = broker.add_subcommand(
        "recommission", "Stop a decommission: the broker takes new replicas again (--admin)");
    r->add_option("id", a->id, "Broker (node) id")->required()->check(CLI::NonNegativeNumber);
    r->callback(on(recommission));
}

}  // namespace trib::cli
