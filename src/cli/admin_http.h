// `trib`'s client of a node's admin HTTP API (for what the Kafka protocol has no request for,
// such as decommissioning a broker).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "cli/common.h"

namespace trib::cli {

// Sends `method` (GET, POST or DELETE) to `path` on opts.admin and returns the JSON body of a
// 2xx answer. No answer: exit_code::unreachable; any other status: the API's error message.
outcome<nlohmann::json> admin_call(const options& opts, const std::string& method,
                                   const std::string& path);

}  // namespace trib::cli
