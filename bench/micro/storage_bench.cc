// Partition log costs without the disk's sync: appending 16 KiB batches (page cache) and
// reading them back from the start.
#include <filesystem>
#include <random>

#include <benchmark/benchmark.h>

#include "model/record_batch.h"
#include "storage/log.h"

namespace trib::storage {
namespace {

std::filesystem::path fresh_dir(const char* name) {
    auto dir = std::filesystem::temp_directory_path() /
               (std::string("trib-micro-") + name + "-" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir);
    return dir;
}

std::vector<uint8_t> batch_16k() {
    std::vector<model::record> rs(16);
    for (auto& r : rs) {
        r.timestamp = 1'700'000'000'000;
        r.value = std::vector<uint8_t>(1000, 0x42);
    }
    return model::build_batch(model::batch_options{}, rs).value();
}

void log_append(benchmark::State& state) {
    auto dir = fresh_dir("append");
    auto log = log::open(dir, log_config{}).value();
    auto batch = batch_16k();
    for (auto _ : state) {
        auto r = log->append(batch, 1'700'000'000'000);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
    log.reset();
    std::filesystem::remove_all(dir);
}
BENCHMARK(log_append);

void log_read_1mib(benchmark::State& state) {
    auto dir = fresh_dir("read");
    auto log = log::open(dir, log_config{}).value();
    auto batch = batch_16k();
    for (int i = 0; i < 4096; ++i)
        (void)log->append(batch, 1'700'000'000'000);
    int64_t offset = 0;
    for (auto _ : state) {
        auto r = log->read(offset, 1 << 20);
        offset = r->next_offset >= log->end_offset() ? 0 : r->next_offset;
        state.counters["bytes_per_read"] = static_cast<double>(r->data.size());
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(state.iterations() * (1 << 20));
    log.reset();
    std::filesystem::remove_all(dir);
}
BENCHMARK(log_read_1mib);

}  // namespace
}  // namespace trib::storage
