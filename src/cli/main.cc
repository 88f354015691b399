// trib: Tributary's command-line tool. It talks to a cluster over the Kafka protocol (through
// librdkafka), so it works with any node, and with any Kafka-compatible broker.
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"

#ifndef TRIB_VERSION
#define TRIB_VERSION "dev"
#endif

int main(int argc, char** argv) {
    using namespace trib::cli;
    context ctx;
    CLI::App app{"trib: run, inspect and fix a Tributary cluster (any node will do)", "trib"};
    app.fallthrough();  // the global options may also come after the command
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("trib ") + TRIB_VERSION);
    app.add_option("-b,--brokers", ctx.opts.brokers, "Bootstrap brokers, host:port,...")
        ->envname("TRIB_BROKERS")
        ->capture_default_str();
    app.add_option("--admin", ctx.opts.admin,
                   "A node's admin HTTP API, host:port (for what Kafka has no request for)")
        ->envname("TRIB_ADMIN")
        ->capture_default_str();
    std::map<std::string, output_format> formats{{"table", output_format::table},
                                                 {"json", output_format::json}};
    app.add_option("--format", ctx.opts.format, "table (for people) or json (for scripts)")
        ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
        ->default_str("table");
    app.add_option("--timeout", ctx.opts.timeout_s, "Seconds each request may take")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    app.add_option("-X", ctx.opts.client_config,
                   "A librdkafka client setting name=value, e.g. security settings (repeatable)");
    app.add_flag("-v,--verbose", ctx.opts.verbose, "Print the Kafka client's own log lines");

    add_cluster_commands(app, ctx);
    add_topic_commands(app, ctx);
    add_produce_command(app, ctx);
    add_consume_command(app, ctx);
    add_group_commands(app, ctx);
    add_partition_commands(app, ctx);
    add_completion_command(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : static_cast<int>(exit_code::usage);
    }
    if (!ctx.run) {
        fmt::print(stderr, "trib: error: no command given (trib --help lists them)\n");
        return static_cast<int>(exit_code::usage);
    }
    auto done = ctx.run();
    if (!done) {
        fmt::print(stderr, "trib: error: {}\n", done.error().message);
        return static_cast<int>(done.error().code);
    }
    return 0;
}
