// What a broker advertises in ApiVersions. The server builds its list from the handlers it
// registers, each declared with `supports<Request>(min, max)`, so ApiVersions can never claim
// an API or a version that has no handler; a range outside the schema fails to compile.
#pragma once

#include <cstdint>
#include <span>

#include "kafka/protocol/api_versions.h"
#include "kafka/protocol/wire.h"

namespace trib::kafka::protocol {

struct supported_api {
    int16_t key;
    version_range versions;
};

template <typename Request>
consteval supported_api supports(int16_t min, int16_t max) {
    if (min > max || min < Request::valid_versions.min || max > Request::valid_versions.max) {
        throw "supported versions must lie inside the schema's validVersions";
    }
    return {Request::kafka_api_key, {min, max}};
}

// The ApiVersions answer to a request sent at `requested_version`, and the version to encode
// it at. A version we do not support gets UNSUPPORTED_VERSION with our ranges, encoded at v0
// so any client can read it and retry at a version we have (KIP-511).
struct api_versions_reply {
    api_versions_response response;
    int16_t version;
};
api_versions_reply answer_api_versions(std::span<const supported_api> apis,
                                       int16_t requested_version);

}  // namespace trib::kafka::protocol
