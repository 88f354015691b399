#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>

namespace trib::detail {

void assert_failed(const char* file, int line, const char* expr, const std::string& message) {
    // Write to stderr directly first: the logger itself may be what is broken.
    std::fprintf(stderr, "assertion failed at %s:%d: %s%s%s\n", file, line, expr,
                 message.empty() ? "" : ": ", message.c_str());
    std::fflush(stderr);
    if (auto logger = spdlog::default_logger(); logger) {
        logger->critical("assertion failed at {}:{}: {} {}", file, line, expr, message);
        logger->flush();
    }
    std::abort();
}

}  // namespace trib::detail
