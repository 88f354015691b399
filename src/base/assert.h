// Invariant checks that stay on in every build type: a broken invariant stops the process
// loudly (file:line, expression, message, flushed logs, abort) rather than corrupting data.
#pragma once

#include <string>

#include <fmt/format.h>

namespace trib::detail {
[[noreturn]] void assert_failed(const char* file, int line, const char* expr,
                                const std::string& message);
}  // namespace trib::detail

#define TRIB_ASSERT(cond)                                                 \
    do {                                                                  \
        if (!(cond)) [[unlikely]] {                                       \
            ::trib::detail::assert_failed(__FILE__, __LINE__, #cond, {}); \
        }                                                                 \
    } while (false)

#define TRIB_ASSERT_MSG(cond, ...)                                                                \
    do {                                                                                          \
        if (!(cond)) [[unlikely]] {                                                               \
            ::trib::detail::assert_failed(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
        }                                                                                         \
    } while (false)

#define TRIB_UNREACHABLE() ::trib::detail::assert_failed(__FILE__, __LINE__, "unreachable", {})
