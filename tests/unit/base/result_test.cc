#include "base/result.h"

#include <string>

#include <gtest/gtest.h>

namespace trib {
namespace {

enum class sample_errc { bad = 1 };

class sample_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "sample"; }
    std::string message(int) const override { return "bad"; }
};

const std::error_category& sample_category() {
    static const sample_category_impl c;
    return c;
}

std::error_code make_error_code(sample_errc e) {
    return {static_cast<int>(e), sample_category()};
}

}  // namespace
}  // namespace trib

template <>
struct std::is_error_code_enum<trib::sample_errc> : std::true_type {};

namespace trib {
namespace {

result<int> half(int x) {
    if (x % 2 != 0) return sample_errc::bad;
    return x / 2;
}

result<int> quarter(int x) {
    int h = TRIB_TRY(half(x));
    return TRIB_TRY(half(h));
}

status check_even(int x) {
    TRIB_TRY(half(x));
    return {};
}

TEST(result, holds_value) {
    auto r = half(8);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, 4);
    EXPECT_EQ(r.value_or(-1), 4);
}

TEST(result, holds_error_enum_as_error_code) {
    auto r = half(3);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), sample_errc::bad);
    EXPECT_EQ(r.value_or(-1), -1);
}

TEST(result, try_propagates_first_error) {
    EXPECT_EQ(*quarter(8), 2);
    EXPECT_EQ(quarter(6).error(), sample_errc::bad);  // 6 -> 3 -> odd
    EXPECT_EQ(quarter(5).error(), sample_errc::bad);
}

TEST(result, void_result_reports_success_and_failure) {
    EXPECT_TRUE(check_even(2));
    auto failed = check_even(1);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error(), sample_errc::bad);
}

TEST(result, custom_error_type_via_unexpected) {
    result<int, std::string> r = unexpected(std::string("why"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "why");
}

TEST(result_death, value_of_failed_result_aborts) {
    EXPECT_DEATH({ (void)half(3).value(); }, "value\\(\\) called on a failed result");
}

TEST(result_death, error_of_successful_result_aborts) {
    EXPECT_DEATH({ (void)half(2).error(); }, "error\\(\\) called on a result holding a value");
}

}  // namespace
}  // namespace trib
