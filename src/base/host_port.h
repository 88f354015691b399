// A "host:port" address as the configuration and `trib` write it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace trib {

struct host_port {
    std::string host;
    uint16_t port = 0;

    std::string to_string() const;  // IPv6 hosts in brackets
    friend bool operator==(const host_port&, const host_port&) = default;
};

// Parses "host:port" or "[ipv6]:port"; the host is an IP literal or a DNS name. Port 0 (any
// free port) only with `allow_any_port`.
result<host_port, std::string> parse_host_port(std::string_view text, bool allow_any_port = false);

}  // namespace trib
