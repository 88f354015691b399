#include <algorithm>

#include "kafka/protocol/api_table.h"

namespace trib::kafka::protocol {

namespace {
constexpr int16_t api_versions_key = 18;
constexpr int16_t controlled_shutdown_key = 7;
}  // namespace

const api_info* find_api(int16_t key) {
    auto apis = all_apis();
    auto it =
        std::find_if(apis.begin(), apis.end(), [key](const api_info& a) { return a.key == key; });
    return it == apis.end() ? nullptr : &*it;
}

int16_t request_header_version(const api_info& api, int16_t version) {
    if (api.key == controlled_shutdown_key && version == 0) return 0;
    return api.request_flexible_from >= 0 && version >= api.request_flexible_from ? 2 : 1;
}

int16_t response_header_version(const api_info& api, int16_t version) {
    if (api.key == api_versions_key) return 0;
    return api.response_flexible_from >= 0 && version >= api.response_flexible_from ? 1 : 0;
}

}  // namespace trib::kafka::protocol
