// What recording a Kafka request's metrics costs (kafka/server/request_metrics: a counter and
// a histogram observation), beside the cheapest work every Produce does anyway: decoding a
// request that carries one small (1 KiB) batch. Compare the two in one run:
//   bench/micro/run --benchmark_filter='record_request|record_topic|decode_small_produce'
#include <chrono>
#include <string>

#include <benchmark/benchmark.h>

#include "kafka/protocol/produce.h"
#include "kafka/server/request_metrics.h"

namespace trib::kafka {
namespace {

void record_request_produce(benchmark::State& state) {
    for (auto _ : state) {
        record_request(0, std::chrono::microseconds(250), 0, false);
    }
}
BENCHMARK(record_request_produce)->Threads(1)->Threads(2);

// Per-topic bytes in: a thread-local lookup of the topic's series, then an increment.
void record_topic_bytes_in(benchmark::State& state) {
    const std::string topic = "orders-eu-west";
    for (auto _ : state) {
        record_topic_bytes(true, topic, 1024);
    }
}
BENCHMARK(record_topic_bytes_in)->Threads(1)->Threads(2);

void decode_small_produce_request(benchmark::State& state) {
    protocol::produce_request req;
    req.acks = -1;
    req.timeout_ms = 30000;
    auto& t = req.topic_data.emplace_back();
    t.name = "bench";
    auto& pd = t.partition_data.emplace_back();
    pd.index = 0;
    pd.records = protocol::bytes(1024, 0x5a);
    auto wire = protocol::encode(req, 9).value();
    for (auto _ : state) {
        auto r = protocol::decode<protocol::produce_request>(wire, 9);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(decode_small_produce_request);

}  // namespace
}  // namespace trib::kafka
