// Record batch costs on the produce and fetch paths: CRC-32C, building, verifying, walking
// records, and each codec's compress/decompress of a 1 MiB batch of 1 KiB records.
#include <random>

#include <benchmark/benchmark.h>

#include "model/compression.h"
#include "model/crc32c.h"
#include "model/record_batch.h"

namespace trib::model {
namespace {

std::vector<uint8_t> text_like(size_t n) {
    // Compressible like real payloads: words from a small vocabulary, some random bytes.
    static const char* words[] = {"order", "user", "id", "price", "eur", "status", "ok"};
    std::mt19937 rng(42);
    std::vector<uint8_t> out;
    while (out.size() < n) {
        const char* w = words[rng() % 7];
        out.insert(out.end(), w, w + std::char_traits<char>::length(w));
        out.push_back(static_cast<uint8_t>(rng() % 4 == 0 ? rng() : ' '));
    }
    out.resize(n);
    return out;
}

std::vector<record> records(int count, size_t value_bytes) {
    std::vector<record> out(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        auto& r = out[static_cast<size_t>(i)];
        r.timestamp = 1'700'000'000'000 + i;
        std::string key = "key-" + std::to_string(i);
        r.key = std::vector<uint8_t>(key.begin(), key.end());
        r.value = text_like(value_bytes);
    }
    return out;
}

void crc32c_bytes(benchmark::State& state) {
    auto data = text_like(static_cast<size_t>(state.range(0)));
    for (auto _ : state)
        benchmark::DoNotOptimize(crc32c(data));
    state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(crc32c_bytes)->Arg(4096)->Arg(1 << 20);

void build_batch_1k_records(benchmark::State& state) {
    auto rs = records(1000, 1024);
    batch_options o;
    o.codec = static_cast<compression>(state.range(0));
    size_t bytes = 0;
    for (auto _ : state) {
        auto b = build_batch(o, rs);
        bytes = b->size();
        benchmark::DoNotOptimize(b);
    }
    state.SetBytesProcessed(state.iterations() * 1000 * 1024);
    state.counters["batch_bytes"] = static_cast<double>(bytes);
    state.SetLabel(compression_name(o.codec));
}
BENCHMARK(build_batch_1k_records)->DenseRange(0, 4);

void verify_and_walk_batch(benchmark::State& state) {
    batch_options o;
    o.codec = static_cast<compression>(state.range(0));
    auto b = build_batch(o, records(1000, 1024)).value();
    for (auto _ : state) {
        auto h = verify_batch(b);
        size_t n = 0;
        auto st = for_each_record(b, size_t{64} << 20, [&](const record_view&) { ++n; });
        benchmark::DoNotOptimize(h);
        benchmark::DoNotOptimize(st);
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(state.iterations() * 1000 * 1024);
    state.SetLabel(compression_name(o.codec));
}
BENCHMARK(verify_and_walk_batch)->DenseRange(0, 4);

void verify_only(benchmark::State& state) {
    auto b = build_batch(batch_options{}, records(1000, 1024)).value();
    for (auto _ : state)
        benchmark::DoNotOptimize(verify_batch(b));
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(b.size()));
}
BENCHMARK(verify_only);

}  // namespace
}  // namespace trib::model
