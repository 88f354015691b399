// Bad input from clients: each case is logged at debug, and at warn only as a summary with
// counts per kind, at most once a minute, so a flood of malformed requests cannot flood the
// log (or the disk under it). Thread-safe: every shard notes into one instance.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace trib::kafka {

enum class bad_input : uint8_t {
    oversized_request,    // a size prefix outside [min, kafka.max_request_bytes]
    stalled_request,      // a request's bytes stopped coming (kafka.request_read_timeout_ms)
    malformed_header,     // the request header does not parse
    malformed_body,       // the request body does not decode at its version
    unsupported_api,      // an API key we do not serve
    unsupported_version,  // a version of an API we do not serve
};
inline constexpr size_t bad_input_kinds = 6;
const char* name_of(bad_input kind);

class bad_input_log {
  public:
    explicit bad_input_log(int64_t interval_ms = 60'000) : _interval_ms(interval_ms) {}

    // Counts one case (the caller logs its details at debug).
    void note(bad_input kind) { _counts[static_cast<size_t>(kind)].fetch_add(1); }
    // Called periodically: once `interval_ms` has passed since the last summary, returns the
    // counts seen since then (`kind=count ...`) and starts over; empty if there is nothing to
    // say yet. The caller logs it at warn.
    std::string take_summary(int64_t now_ms);
    // Cases noted since the start (tests).
    uint64_t total(bad_input kind) const;

  private:
    int64_t _interval_ms;
    std::atomic<int64_t> _last_summary_ms{-1};
    std::array<std::atomic<uint64_t>, bad_input_kinds> _counts{};
    std::array<std::atomic<uint64_t>, bad_input_kinds> _reported{};
};

}  // namespace trib::kafka
