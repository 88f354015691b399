// trib::error: an error code plus a message, for failures a human reads (configuration,
// startup, the admin API). The hot path uses bare std::error_code and never builds strings.
#pragma once

#include <string>
#include <system_error>

namespace trib {

struct error {
    std::error_code code;
    std::string message;
};

}  // namespace trib
