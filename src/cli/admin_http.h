// `trib`'s client of a node's admin HTTP API (for what the Kafka protocol has no request for,
// such as decommissioning a broker).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "cli/common.h"

namespace trib::cli {

enum class http_method { get, post, del };

// Sends `method` to `path` on opts.admin and returns the JSON body of a 2xx answer. A bad
// --admin: exit_code::usage; no answer: exit_code::unreachable; any other status: the API's
// error message.
outcome<nlohmann::json> admin_call(const options& opts, http_method method,
                                   const std::string& path);

}  // namespace trib::cli
