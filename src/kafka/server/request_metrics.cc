#include "kafka/server/request_metrics.h"

#include <array>
#include <string>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "base/metrics.h"
#include "kafka/protocol/api_table.h"
#include "kafka/server/broker.h"

namespace trib::kafka {

namespace {

constexpr size_t max_api_key = 128;

// Built once: one series per served API, so recording is a pointer away (no lookup); error
// series are added as codes appear (a family lookup, on the error path only).
struct request_series {
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Counter>& errors;
    prometheus::Family<prometheus::Histogram>& latency;
    std::array<prometheus::Counter*, max_api_key> by_api{};
    std::array<prometheus::Histogram*, max_api_key> latency_by_api{};
    std::array<std::string, max_api_key> names{};
    prometheus::Counter* unparsed = nullptr;

    request_series()
        : requests(prometheus::BuildCounter()
                       .Name("tributary_kafka_requests_total")
                       .Help("Kafka requests served, by API")
                       .Register(metrics::registry())),
          errors(prometheus::BuildCounter()
                     .Name("tributary_kafka_request_errors_total")
                     .Help("Kafka answers carrying an error (code: the Kafka error code, or "
                           "'closed' when the connection was closed over the request)")
                     .Register(metrics::registry())),
          latency(prometheus::BuildHistogram()
                      .Name("tributary_kafka_request_duration_seconds")
                      .Help("Time from a request's arrival to its answer being ready")
                      .Register(metrics::registry())) {
        for (const auto& api : supported_apis()) {
            auto key = static_cast<size_t>(api.key);
            const protocol::api_info* info = protocol::find_api(api.key);
            if (key >= max_api_key || info == nullptr) continue;
            names[key] = std::string(info->name);
            by_api[key] = &requests.Add({{"api", names[key]}});
            latency_by_api[key] = &latency.Add({{"api", names[key]}}, metrics::latency_buckets());
        }
        unparsed = &requests.Add({{"api", "unparsed"}});
    }
};

request_series& series() {
    static request_series s;
    return s;
}

}  // namespace

void record_request(int16_t api_key, std::chrono::nanoseconds took, int16_t error_code,
                    bool closed) {
    request_series& s = series();
    auto key = static_cast<size_t>(api_key);
    if (api_key < 0 || key >= max_api_key || s.by_api[key] == nullptr) {
        s.unparsed->Increment();
        return;
    }
    s.by_api[key]->Increment();
    s.latency_by_api[key]->Observe(std::chrono::duration<double>(took).count());
    if (closed || error_code != 0) {
        s.errors
            .Add({{"api", s.names[key]},
                  {"code", closed ? std::string("closed") : std::to_string(error_code)}})
            .Increment();
    }
}

void record_topic_bytes(bool in, const std::string& topic, size_t bytes) {
    // Each shard keeps its own pointers to the topics' series: the family lookup (a lock)
    // happens once per topic and shard, not per request.
    thread_local std::unordered_map<std::string, prometheus::Counter*> cache[2];
    auto& mine = cache[in ? 0 : 1];
    auto it = mine.find(topic);
    if (it == mine.end()) {
        prometheus::Counter& c =
            in ? metrics::counter("tributary_topic_bytes_in_total",
                                  "Record-batch bytes produced to the topic", {{"topic", topic}})
               : metrics::counter("tributary_topic_bytes_out_total",
                                  "Record-batch bytes fetched from the topic", {{"topic", topic}});
        it = mine.emplace(topic, &c).first;
    }
    it->second->Increment(static_cast<double>(bytes));
}

}  // namespace trib::kafka
