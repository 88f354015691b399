// Wall-clock time in milliseconds since the epoch: record timestamps, retention, LogAppendTime.
// Pure state machines never call this; their drivers pass the time in.
#pragma once

#include <chrono>
#include <cstdint>

namespace trib {

inline int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace trib
