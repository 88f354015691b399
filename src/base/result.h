// result<T, E>: a value or an error, for expected failures (bad input, I/O errors, not leader).
// Member names follow std::expected so this can become an alias once the toolchain has it.
#pragma once

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace trib {

// Wraps an error so that result<E, E> and friends stay unambiguous: `return unexpected(e);`.
template <typename E>
struct unexpected {
    explicit unexpected(E e) : value(std::move(e)) {}
    E value;
};
template <typename E>
unexpected(E) -> unexpected<E>;

template <typename T, typename E = std::error_code>
class [[nodiscard]] result {
  public:
    using value_type = T;
    using error_type = E;

    // NOLINTNEXTLINE(google-explicit-constructor): a value converts to a result holding it.
    result(T value) : _v(std::in_place_index<0>, std::move(value)) {}
    template <typename G>
    result(unexpected<G> e) : _v(std::in_place_index<1>, std::move(e.value)) {}
    // An error enum registered with <system_error> converts straight to a failed result.
    template <typename Enum>
    requires(std::is_same_v<E, std::error_code>&& std::is_error_code_enum_v<Enum>) result(Enum e)
        : _v(std::in_place_index<1>, make_error_code(e)) {}

    bool has_value() const noexcept { return _v.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return checked_value(); }
    const T& value() const& { return const_cast<result*>(this)->checked_value(); }
    T&& value() && { return std::move(checked_value()); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const E& error() const& {
        TRIB_ASSERT_MSG(!has_value(), "error() called on a result holding a value");
        return std::get<1>(_v);
    }
    E&& error() && {
        TRIB_ASSERT_MSG(!has_value(), "error() called on a result holding a value");
        return std::get<1>(std::move(_v));
    }

    template <typename U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(_v) : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    T& checked_value() {
        TRIB_ASSERT_MSG(has_value(), "value() called on a failed result");
        return std::get<0>(_v);
    }
    std::variant<T, E> _v;
};

// result<void, E>: success or an error (also spelled trib::status for std::error_code).
template <typename E>
class [[nodiscard]] result<void, E> {
  public:
    using value_type = void;
    using error_type = E;

    result() = default;
    template <typename G>
    result(unexpected<G> e) : _error(std::move(e.value)), _failed(true) {}
    template <typename Enum>
    requires(std::is_same_v<E, std::error_code>&& std::is_error_code_enum_v<Enum>) result(Enum e)
        : _error(make_error_code(e)), _failed(true) {}

    bool has_value() const noexcept { return !_failed; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const { TRIB_ASSERT_MSG(!_failed, "value() called on a failed result"); }

    const E& error() const& {
        TRIB_ASSERT_MSG(_failed, "error() called on a successful result");
        return _error;
    }

  private:
    E _error{};
    bool _failed = false;
};

using status = result<void>;

}  // namespace trib

// TRIB_TRY(expr): evaluate a result; on failure return its error from the enclosing function,
// otherwise yield the value. Not for coroutines: there, write `if (!r) co_return r.error();`.
#define TRIB_TRY(expr)                                                      \
    ({                                                                      \
        auto&& trib_try_result_ = (expr);                                   \
        if (!trib_try_result_) {                                            \
            return ::trib::unexpected(std::move(trib_try_result_).error()); \
        }                                                                   \
        std::move(trib_try_result_).value();                                \
    })
