#include "base/logging.h"

#include <gtest/gtest.h>

#include "base/assert.h"

namespace trib::log {
namespace {

TEST(logging, parses_every_level_name) {
    EXPECT_EQ(parse_level("trace"), spdlog::level::trace);
    EXPECT_EQ(parse_level("debug"), spdlog::level::debug);
    EXPECT_EQ(parse_level("info"), spdlog::level::info);
    EXPECT_EQ(parse_level("warn"), spdlog::level::warn);
    EXPECT_EQ(parse_level("error"), spdlog::level::err);
    EXPECT_EQ(parse_level("critical"), spdlog::level::critical);
    EXPECT_EQ(parse_level("off"), spdlog::level::off);
    EXPECT_EQ(parse_level("INFO"), std::nullopt);
    EXPECT_EQ(parse_level(""), std::nullopt);
}

TEST(logging, parses_formats) {
    EXPECT_EQ(parse_format("text"), format::text);
    EXPECT_EQ(parse_format("json"), format::json);
    EXPECT_EQ(parse_format("xml"), std::nullopt);
}

TEST(logging, json_lines_escape_the_message) {
    setup(spdlog::level::info, format::json);
    testing::internal::CaptureStderr();
    get("test")->info("quote\" backslash\\ newline\n tab\t ctrl\x01");
    get("test")->flush();
    auto line = testing::internal::GetCapturedStderr();
    EXPECT_NE(line.find(R"("level":"info","logger":"test")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("msg":"quote\" backslash\\ newline\n tab\t ctrl\u0001"})"),
              std::string::npos)
        << line;
    setup(spdlog::level::info, format::text);
}

TEST(logging, level_filters_lower_levels) {
    setup(spdlog::level::warn, format::text);
    testing::internal::CaptureStderr();
    get("test")->info("hidden");
    get("test")->warn("shown");
    get("test")->flush();
    auto out = testing::internal::GetCapturedStderr();
    EXPECT_EQ(out.find("hidden"), std::string::npos);
    EXPECT_NE(out.find("warning test: shown"), std::string::npos) << out;
    setup(spdlog::level::info, format::text);
}

TEST(assert_death, failed_assertion_names_expression_and_message) {
    int offset = 7;
    EXPECT_DEATH(TRIB_ASSERT_MSG(offset < 5, "offset {} out of range", offset),
                 "assertion failed at .*logging_test.cc:[0-9]+: offset < 5: offset 7 out of range");
}

}  // namespace
}  // namespace trib::log
