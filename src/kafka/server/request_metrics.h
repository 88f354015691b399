// Kafka request metrics in the process's registry: per API, requests, latency and errors
// (the first error code an answer carries: top-level, or of a topic or partition in it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace trib::kafka {

// `api_key` -1: the header did not parse. `closed`: the connection was closed over it.
void record_request(int16_t api_key, std::chrono::nanoseconds took, int16_t error_code,
                    bool closed);

// Record-batch bytes a topic took from producers (`in`: validated, as handed to replication)
// or gave to consumers (Fetch), as Kafka's BytesInPerSec / BytesOutPerSec per topic.
void record_topic_bytes(bool in, const std::string& topic, size_t bytes);

// The first error code of an answer: its own, else the first of its topics' or partitions'.
template <typename T>
int16_t first_error(const T& r) {
    if constexpr (requires { r.error_code; }) {
        if (r.error_code != 0) return r.error_code;
    }
    auto in = [](const auto& items) -> int16_t {
        for (const auto& item : items) {
            if (int16_t e = first_error(item); e != 0) return e;
        }
        return 0;
    };
    if constexpr (requires { r.responses.begin(); }) {
        if (int16_t e = in(r.responses); e != 0) return e;
    }
    if constexpr (requires { r.topics.begin(); }) {
        if (int16_t e = in(r.topics); e != 0) return e;
    }
    if constexpr (requires { r.partitions.begin(); }) {
        if (int16_t e = in(r.partitions); e != 0) return e;
    }
    if constexpr (requires { r.partition_responses.begin(); }) {
        if (int16_t e = in(r.partition_responses); e != 0) return e;
    }
    if constexpr (requires { r.results.begin(); }) {
        if (int16_t e = in(r.results); e != 0) return e;
    }
    return 0;
}

}  // namespace trib::kafka
