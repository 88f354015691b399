#include "kafka/server/bad_input.h"

#include <fmt/format.h>

namespace trib::kafka {

const char* name_of(bad_input kind) {
    switch (kind) {
        case bad_input::oversized_request:
            return "oversized_request";
        case bad_input::stalled_request:
            return "stalled_request";
        case bad_input::malformed_header:
            return "malformed_header";
        case bad_input::malformed_body:
            return "malformed_body";
        case bad_input::unsupported_api:
            return "unsupported_api";
        case bad_input::unsupported_version:
            return "unsupported_version";
    }
    return "unknown";
}

std::string bad_input_log::take_summary(int64_t now_ms) {
    int64_t last = _last_summary_ms.load();
    if (last < 0) {
        // The first call starts the first interval.
        _last_summary_ms.compare_exchange_strong(last, now_ms);
        return {};
    }
    if (now_ms - last < _interval_ms) return {};
    if (!_last_summary_ms.compare_exchange_strong(last, now_ms)) return {};  // another caller
    std::string out;
    for (size_t i = 0; i < bad_input_kinds; ++i) {
        uint64_t seen = _counts[i].load();
        uint64_t fresh = seen - _reported[i].exchange(seen);
        if (fresh == 0) continue;
        if (!out.empty()) out += ' ';
        out += fmt::format("{}={}", name_of(static_cast<bad_input>(i)), fresh);
    }
    return out;
}

uint64_t bad_input_log::total(bad_input kind) const {
    return _counts[static_cast<size_t>(kind)].load();
}

}  // namespace trib::kafka
