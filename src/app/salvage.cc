#include "app/salvage.h"

#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "app/data_dir.h"
#include "storage/log.h"
#include "storage/segment.h"

namespace trib::app {

namespace {

constexpr int exit_damage_left = 3;

// Directories under `root` that hold log segments.
std::vector<std::filesystem::path> log_dirs(const std::filesystem::path& root) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_directory(ec)) continue;
        auto bases = storage::segment::list_bases(it->path());
        if (bases && !bases->empty()) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

int run_salvage(const config& cfg, bool apply, std::FILE* out) {
    // The lock keeps a running node out (and this out of a running node's files).
    auto lock = open_data_dir(cfg.data_dir, cfg.node_id);
    if (!lock) {
        fmt::print(out, "tributary salvage: error: {}\n", lock.error().message);
        return 1;
    }
    int damaged = 0;
    for (const auto& dir : log_dirs(cfg.data_dir)) {
        auto report = storage::log::salvage(dir, {}, apply);
        if (!report) {
            fmt::print(out, "{}: error: {}\n", dir.string(), report.error().message());
            return 1;
        }
        if (!*report) continue;
        ++damaged;
        for (const auto& d : (*report)->damage) {
            auto last = d.next_offset >= 0 ? std::to_string(d.next_offset - 1)
                                           : std::string("the end of the segment");
            fmt::print(out, "{}: bytes [{}, {}) holding offsets {} to {} {}\n",
                       (*report)->segment.string(), d.position, d.position + d.size, d.first_offset,
                       last, apply ? "removed" : "would be lost");
        }
        fmt::print(out, "{}: appends {} at offset {}\n", dir.string(),
                   apply ? "continue" : "would continue", (*report)->next_offset);
    }
    if (damaged == 0) {
        fmt::print(out, "no damaged logs under {}\n", cfg.data_dir.string());
        return 0;
    }
    if (!apply) {
        fmt::print(out,
                   "{} damaged log(s); nothing changed. Run again with --apply to remove the "
                   "damage (what is listed above is lost).\n",
                   damaged);
        return exit_damage_left;
    }
    fmt::print(out, "{} log(s) salvaged\n", damaged);
    return 0;
}

}  // namespace trib::app
