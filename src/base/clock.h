// Wall-clock time in milliseconds since the epoch: record timestamps, retention, LogAppendTime;
// and a monotonic clock for timeouts.
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

// Monotonic milliseconds (arbitrary origin) for timeouts and ages that must not jump.
inline int64_t steady_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace trib
