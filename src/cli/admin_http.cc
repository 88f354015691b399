#include "cli/admin_http.h"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace trib::cli {

namespace {

struct endpoint {
    std::string host;
    int port = 0;
};

outcome<endpoint> parse_endpoint(const std::string& text) {
    auto colon = text.rfind(':');
    auto port = colon == std::string::npos
                    ? std::nullopt
                    : parse_non_negative(std::string_view(text).substr(colon + 1));
    if (!port || *port == 0 || *port > 65535 || colon == 0) {
        return fail(fmt::format("--admin: expected host:port, got '{}'", text), exit_code::usage);
    }
    return endpoint{text.substr(0, colon), static_cast<int>(*port)};
}

}  // namespace

outcome<nlohmann::json> admin_call(const options& opts, const std::string& method,
                                   const std::string& path) {
    auto at = TRIB_TRY(parse_endpoint(opts.admin));
    httplib::Client http(at.host, at.port);
    auto seconds = static_cast<time_t>(opts.timeout_s);
    auto micros = static_cast<time_t>((opts.timeout_s - static_cast<double>(seconds)) * 1e6);
    http.set_connection_timeout(seconds, micros);
    http.set_read_timeout(seconds, micros);
    http.set_write_timeout(seconds, micros);
    httplib::Result res = method == "POST"     ? http.Post(path)
                          : method == "DELETE" ? http.Delete(path)
                                               : http.Get(path);
    if (!res) {
        return fail(fmt::format("no answer from the admin API at {} ({}); is --admin (or "
                                "TRIB_ADMIN) a node's admin.listen address?",
                                opts.admin, httplib::to_string(res.error())),
                    exit_code::unreachable);
    }
    auto body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (res->status / 100 != 2) {
        std::string message =
            body.is_object() && body.contains("error") && body["error"].is_string()
                ? body["error"].get<std::string>()
                : res->body;
        return fail(fmt::format("{} {}: HTTP {}: {}", method, path, res->status, message));
    }
    if (body.is_discarded()) {
        return fail(
            fmt::format("{} {}: the admin API at {} answered no JSON", method, path, opts.admin));
    }
    return body;
}

}  // namespace trib::cli
