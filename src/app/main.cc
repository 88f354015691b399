// The tributary binary: parse flags and the YAML file, validate every setting, then run a node.
// Exit codes: 0 clean stop, 1 runtime failure, 2 invalid command line or configuration.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/config.h"
#include "app/node.h"
#include "app/salvage.h"
#include "base/logging.h"

namespace {

constexpr int exit_runtime_failure = 1;
constexpr int exit_bad_config = 2;

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "tributary: error: %s\n", message.c_str());
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace trib;
    app::defer_shutdown_signals();
    CLI::App cli{
        "Tributary: a Kafka-compatible streaming data platform.\n"
        "Settings come from defaults, then --config, then the flags below."};
    cli.set_version_flag("--version", fmt::format("tributary {}", TRIB_VERSION));
    std::string config_path;
    cli.add_option("-c,--config", config_path, "YAML configuration file");
    bool check_only = false;
    cli.add_flag("--check-config", check_only, "Validate the configuration, print it and exit");
    auto* salvage = cli.add_subcommand(
        "salvage",
        "Find damaged log data (synced data that no longer verifies) under the data directory "
        "and say what removing it loses; with --apply, remove it. The node must be stopped. "
        "Exit 0: nothing damaged or all salvaged; 3: damage found and left in place");
    salvage->fallthrough();
    bool salvage_apply = false;
    salvage->add_flag("--apply", salvage_apply, "Remove the damage (its offsets become a gap)");

    auto table = app::settings();
    std::vector<std::optional<std::string>> flag_values(table.size());
    const app::config defaults;
    for (size_t i = 0; i < table.size(); ++i) {
        const auto& s = table[i];
        cli.add_option(fmt::format("--{}", s.flag), flag_values[i],
                       fmt::format("{} [{}: {}]", s.help, s.name, s.show(defaults)));
    }
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --version
        return fail(exit_bad_config, fmt::format("{} (see tributary --help)", e.what()));
    }

    app::config cfg;
    if (!config_path.empty()) {
        if (auto r = app::apply_yaml_file(cfg, config_path); !r) {
            return fail(exit_bad_config, r.error().message);
        }
    }
    for (size_t i = 0; i < table.size(); ++i) {
        if (!flag_values[i]) continue;
        auto origin = fmt::format("flag --{}", table[i].flag);
        if (auto r = app::set_setting(cfg, table[i].name, *flag_values[i], origin); !r) {
            return fail(exit_bad_config, r.error().message);
        }
    }
    if (auto r = app::validate(cfg); !r) return fail(exit_bad_config, r.error().message);

    if (salvage->parsed()) {
        log::setup(spdlog::level::warn, cfg.log_format);
        return app::run_salvage(cfg, salvage_apply, stdout);
    }

    if (check_only) {
        for (const auto& [name, value] : app::describe(cfg)) {
            fmt::print("{}: {}\n", name, value);
        }
        return 0;
    }

    log::setup(cfg.log_level, cfg.log_format);
    auto settings_text = app::describe(cfg);
    app::node node(std::move(cfg));
    if (auto r = node.start(); !r) {
        bool is_config = r.error().code.category() == app::config_category();
        return fail(is_config ? exit_bad_config : exit_runtime_failure, r.error().message);
    }
    auto log = log::get("app");
    log->info("tributary {} starting", TRIB_VERSION);
    for (const auto& [name, value] : settings_text) {
        log->info("setting {}={}", name, value);
    }
    if (auto r = node.run_until_signal(); !r) {
        return fail(exit_runtime_failure, r.error().message);
    }
    return 0;
}
