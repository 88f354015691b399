#include "cli/admin_http.h"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "base/host_port.h"

namespace trib::cli {

namespace {

const char* name_of(http_method m) {
    switch (m) {
        case http_method::get:
            return "GET";
        case http_method::post:
            return "POST";
        case http_method::del:
            return "DELETE";
    }
    return "?";
}

}  // namespace

outcome<nlohmann::json> admin_call(const options& opts, http_method method,
                                   const std::string& path) {
    auto at = parse_host_port(opts.admin);
    if (!at) return fail(fmt::format("--admin '{}': {}", opts.admin, at.error()), exit_code::usage);
    httplib::Client http(at->host, at->port);
    auto seconds = static_cast<time_t>(opts.timeout_s);
    auto micros = static_cast<time_t>((opts.timeout_s - static_cast<double>(seconds)) * 1e6);
    http.set_connection_timeout(seconds, micros);
    http.set_read_timeout(seconds, micros);
    http.set_write_timeout(seconds, micros);
    httplib::Result res = method == http_method::post  ? http.Post(path)
                          : method == http_method::del ? http.Delete(path)
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
        return fail(fmt::format("{} {}: HTTP {}: {}", name_of(method), path, res->status, message));
    }
    if (body.is_discarded()) {
        return fail(fmt::format("{} {}: the admin API at {} answered no JSON", name_of(method),
                                path, opts.admin));
    }
    return body;
}

}  // namespace trib::cli
