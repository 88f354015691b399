// Kafka codec costs: decoding a Produce request that carries a 1 MiB batch, and encoding a
// Fetch response of 16 partitions x 64 KiB (the bytes are copied, not parsed).
#include <benchmark/benchmark.h>

#include "kafka/protocol/fetch.h"
#include "kafka/protocol/metadata.h"
#include "kafka/protocol/produce.h"

namespace trib::kafka::protocol {
namespace {

produce_request produce_with(size_t batch_bytes, int partitions) {
    produce_request req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& t = req.topic_data.emplace_back();
    t.name = "bench";
    for (int p = 0; p < partitions; ++p) {
        auto& pd = t.partition_data.emplace_back();
        pd.index = p;
        pd.records = bytes(batch_bytes, 0x5a);
    }
    return req;
}

void decode_produce_request(benchmark::State& state) {
    auto wire = encode(produce_with(1 << 20, 1), 9).value();
    for (auto _ : state) {
        auto r = decode<produce_request>(wire, 9);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
}
BENCHMARK(decode_produce_request);

void encode_fetch_response(benchmark::State& state) {
    fetch_response resp;
    auto& t = resp.responses.emplace_back();
    t.topic = "bench";
    for (int p = 0; p < 16; ++p) {
        auto& pd = t.partitions.emplace_back();
        pd.partition_index = p;
        pd.high_watermark = 1'000'000;
        pd.records = bytes(64 << 10, 0x5a);
    }
    size_t size = 0;
    for (auto _ : state) {
        auto wire = encode(resp, 12);
        size = wire->size();
        benchmark::DoNotOptimize(wire);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(size));
}
BENCHMARK(encode_fetch_response);

void encode_metadata_response_1000_partitions(benchmark::State& state) {
    metadata_response resp;
    auto& b = resp.brokers.emplace_back();
    b.host = "127.0.0.1";
    b.port = 9092;
    for (int t = 0; t < 100; ++t) {
        auto& topic = resp.topics.emplace_back();
        topic.name = "topic-" + std::to_string(t);
        for (int p = 0; p < 10; ++p) {
            auto& part = topic.partitions.emplace_back();
            part.partition_index = p;
            part.replica_nodes = {0};
            part.isr_nodes = {0};
        }
    }
    for (auto _ : state)
        benchmark::DoNotOptimize(encode(resp, 12));
}
BENCHMARK(encode_metadata_response_1000_partitions);

}  // namespace
}  // namespace trib::kafka::protocol
