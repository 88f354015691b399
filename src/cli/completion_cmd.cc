// trib completion bash: a bash completion script made from the command tree itself, so it
// never falls out of step with the commands.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"

namespace trib::cli {

namespace {

// Every command path ("", "topic", "topic create", ...) with the words that may follow it.
void collect(const CLI::App& app, const std::string& path,
             std::vector<std::pair<std::string, std::string>>& out) {
    std::string words;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        words += sub->get_name() + " ";
    }
    for (const CLI::Option* o : app.get_options()) {
        for (const std::string& l : o->get_lnames())
            words += "--" + l + " ";
        for (const std::string& s : o->get_snames())
            words += "-" + s + " ";
    }
    out.emplace_back(path, words);
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
    }
}

outcome<> print_bash(const CLI::App& root) {
    std::vector<std::pair<std::string, std::string>> paths;
    collect(root, "", paths);
    std::string cases;
    for (const auto& [path, words] : paths) {
        cases += fmt::format("        \"{}\") words=\"{}\" ;;\n", path, words);
    }
    fmt::print(R"sh(# bash completion for trib: eval "$(trib completion bash)"
_trib() {{
    local cur path="" w i words
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        [[ $w == -* ]] && continue
        case "${{path:+$path }}$w" in
{}            *) continue ;;
        esac
        path="${{path:+$path }}$w"
    done
    case "$path" in
{}    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F _trib trib
)sh",
               [&] {
                   std::string known;
                   for (const auto& [path, words] : paths) {
                       if (!path.empty()) known += fmt::format("            \"{}\") ;;\n", path);
                   }
                   return known;
               }(),
               cases);
    return {};
}

}  // namespace

void add_completion_command(CLI::App& app, context& ctx) {
    auto* c = app.add_subcommand("completion", "Print a shell completion script");
    auto* bash = c->add_subcommand("bash", "For bash: eval \"$(trib completion bash)\"");
    c->require_subcommand(1);
    bash->callback([&ctx, &app] { ctx.run = [&app] { return print_bash(app); }; });
}

}  // namespace trib::cli
