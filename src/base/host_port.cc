#include "base/host_port.h"

#include <cctype>
#include <charconv>

#include <arpa/inet.h>
#include <fmt/format.h>

namespace trib {

namespace {

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
bool is_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    size_t start = 0;
    while (start <= host.size()) {
        size_t end = host.find('.', start);
        if (end == std::string_view::npos) end = host.size();
        auto label = host.substr(start, end - start);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
        }
        start = end + 1;
    }
    return true;
}

}  // namespace

std::string host_port::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

result<host_port, std::string> parse_host_port(std::string_view text, bool allow_any_port) {
    std::string host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return unexpected(std::string("expected [ipv6-address]:port"));
        }
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
        unsigned char buf[16];
        if (inet_pton(AF_INET6, host.c_str(), buf) != 1) {
            return unexpected(fmt::format("'{}' is not an IPv6 address", host));
        }
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return unexpected(std::string("expected host:port"));
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string::npos) {
            return unexpected(std::string("write IPv6 addresses in brackets: [::1]:9092"));
        }
        if (!is_ip_literal(host) && !is_dns_name(host)) {
            return unexpected(fmt::format("'{}' is not a valid host name or IP address", host));
        }
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port < (allow_any_port ? 0u : 1u) || port > 65535) {
        return unexpected(
            fmt::format("port must be an integer between {} and 65535", allow_any_port ? 0 : 1));
    }
    return host_port{std::move(host), static_cast<uint16_t>(port)};
}

}  // namespace trib
