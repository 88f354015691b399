// Every Kafka API key the schemas define, with its valid versions and the first flexible
// version of its request and response (generated into api_table.cc), and the header rules.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "kafka/protocol/wire.h"

namespace trib::kafka::protocol {

struct api_info {
    int16_t key;
    std::string_view name;
    version_range versions;
    int16_t request_flexible_from;   // -1: never flexible
    int16_t response_flexible_from;  // -1: never flexible
};

std::span<const api_info> all_apis();
const api_info* find_api(int16_t key);

// Request header v2 for flexible request versions, v1 otherwise (v0 only for
// ControlledShutdown v0). Response header v1 for flexible versions, v0 otherwise, except
// that ApiVersions responses always use v0 (KIP-511) so any client can read the error.
int16_t request_header_version(const api_info& api, int16_t version);
int16_t response_header_version(const api_info& api, int16_t version);

}  // namespace trib::kafka::protocol
