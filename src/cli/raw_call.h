// Requests librdkafka 2.0.2 has no call for (DescribeLogDirs, the partition reassignments), sent to
// one broker over a connection of their own and encoded by the broker's own generated codecs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cli/common.h"
#include "cli/kafka.h"

namespace trib::cli {

// Sends one request (header v1, or v2 for a `flexible` version) and returns the response body
// after its header; a failure names the broker.
outcome<std::vector<uint8_t>> raw_call(const broker_info& broker, int16_t api_key, int16_t version,
                                       std::span<const uint8_t> body,
                                       std::chrono::milliseconds timeout, bool flexible = false);

// The size on disk of each replica of `topic`, by (partition, broker), from DescribeLogDirs
// to every live broker. A broker that does not answer is left out (its sizes show as
// unknown); `missing` names it.
std::map<std::pair<int32_t, int32_t>, int64_t> replica_sizes(const cluster_info& c,
                                                             const std::string& topic,
                                                             std::chrono::milliseconds timeout,
                                                             std::vector<int32_t>* missing);

}  // namespace trib::cli
