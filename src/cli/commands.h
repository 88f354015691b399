// Each command family adds its subcommands to the app; a parsed command leaves the work it
// will do in `run`, which main calls after parsing (so --help and bad flags never connect).
#pragma once

#include <functional>

#include "cli/common.h"

namespace CLI {
class App;
}

namespace trib::cli {

using command_fn = std::function<outcome<>()>;

struct context {
    options opts;
    command_fn run;
};

void add_cluster_commands(CLI::App& app, context& ctx);
void add_topic_commands(CLI::App& app, context& ctx);
void add_produce_command(CLI::App& app, context& ctx);
void add_consume_command(CLI::App& app, context& ctx);
void add_group_commands(CLI::App& app, context& ctx);
void add_partition_commands(CLI::App& app, context& ctx);
// `trib broker decommission|recommission`, under the `broker` command cluster_cmd.cc adds.
void add_broker_admin_commands(CLI::App& broker, context& ctx);
void add_completion_command(CLI::App& app, context& ctx);

}  // namespace trib::cli
