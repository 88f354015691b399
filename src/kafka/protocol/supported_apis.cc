#include "kafka/protocol/supported_apis.h"

#include <algorithm>

#include "base/assert.h"

namespace trib::kafka::protocol {

namespace {
constexpr int16_t unsupported_version = 35;
}  // namespace

api_versions_reply answer_api_versions(std::span<const supported_api> apis,
                                       int16_t requested_version) {
    api_versions_reply out{};
    for (const auto& api : apis) {
        out.response.api_keys.push_back({api.key, api.versions.min, api.versions.max, {}});
    }
    std::sort(out.response.api_keys.begin(), out.response.api_keys.end(),
              [](const auto& a, const auto& b) { return a.api_key < b.api_key; });
    auto duplicate =
        std::adjacent_find(out.response.api_keys.begin(), out.response.api_keys.end(),
                           [](const auto& a, const auto& b) { return a.api_key == b.api_key; });
    TRIB_ASSERT_MSG(duplicate == out.response.api_keys.end(), "API key {} has two handlers",
                    duplicate->api_key);

    auto own = std::find_if(apis.begin(), apis.end(), [](const supported_api& a) {
        return a.key == api_versions_request::kafka_api_key;
    });
    TRIB_ASSERT_MSG(own != apis.end(), "ApiVersions must be among the supported APIs");
    if (own->versions.contains(requested_version)) {
        out.version = requested_version;
    } else {
        out.response.error_code = unsupported_version;
        out.version = 0;
    }
    return out;
}

}  // namespace trib::kafka::protocol
