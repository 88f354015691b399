// Append and read throughput of one partition log, for comparison with fio on the same disk
// (bench/storage/run). Appends `batch-bytes` batches and flushes after every `group-bytes`
// (one fdatasync per group, as the group committer does under load), then reads the log back
// from the page cache. Prints one JSON object.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "model/record_batch.h"
#include "storage/log.h"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

int fail(const std::string& what) {
    std::fprintf(stderr, "log_bench: %s\n", what.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"Partition log append/read throughput"};
    std::string dir;
    size_t batch_bytes = 16 * 1024;
    size_t group_bytes = 1024 * 1024;
    size_t total_mib = 1024;
    cli.add_option("--dir", dir, "empty or missing directory on the disk to measure")->required();
    cli.add_option("--batch-bytes", batch_bytes, "size of each appended batch");
    cli.add_option("--group-bytes", group_bytes, "bytes appended between flushes (0: never)");
    cli.add_option("--total-mib", total_mib, "MiB to append");
    CLI11_PARSE(cli, argc, argv);
    if (batch_bytes < 128) return fail("--batch-bytes must be at least 128");

    std::filesystem::remove_all(dir);
    trib::storage::log_config cfg;
    cfg.max_batch_bytes = static_cast<uint32_t>(batch_bytes + 1024);
    auto opened = trib::storage::log::open(dir, cfg);
    if (!opened) return fail("open: " + opened.error().message());
    auto& log = **opened;

    // One record whose value fills the batch; the same bytes are appended again and again
    // (append rewrites only the base offset, which the CRC does not cover).
    trib::model::record r;
    r.timestamp = 1;
    r.value.emplace(batch_bytes - 80, uint8_t{'v'});
    auto batch = trib::model::build_batch({}, std::span(&r, 1)).value();

    uint64_t total = uint64_t{total_mib} << 20;
    uint64_t appended = 0;
    uint64_t since_flush = 0;
    uint64_t flushes = 0;
    auto start = clock_type::now();
    while (appended < total) {
        auto a = log.append(batch, 1);
        if (!a) return fail("append: " + a.error().message());
        appended += batch.size();
        since_flush += batch.size();
        if (group_bytes > 0 && since_flush >= group_bytes) {
            if (auto f = log.flush(); !f) return fail("flush: " + f.error().message());
            since_flush = 0;
            ++flushes;
        }
    }
    if (auto f = log.flush(); !f) return fail("flush: " + f.error().message());
    double append_s = seconds_since(start);

    start = clock_type::now();
    uint64_t read_bytes = 0;
    int64_t offset = log.start_offset();
    while (offset < log.end_offset()) {
        auto got = log.read(offset, 1 << 20);
        if (!got) return fail("read: " + got.error().message());
        read_bytes += got->data.size();
        offset = got->next_offset;
    }
    double read_s = seconds_since(start);

    fmt::print(
        "{{\"batch_bytes\": {}, \"group_bytes\": {}, \"appended_bytes\": {}, \"flushes\": {}, "
        "\"append_seconds\": {:.3f}, \"append_mib_per_s\": {:.1f}, \"read_bytes\": {}, "
        "\"read_seconds\": {:.3f}, \"read_mib_per_s\": {:.1f}}}\n",
        batch.size(), group_bytes, appended, flushes, append_s,
        static_cast<double>(appended) / (1 << 20) / append_s, read_bytes, read_s,
        static_cast<double>(read_bytes) / (1 << 20) / read_s);
    std::filesystem::remove_all(dir);
    return 0;
}
