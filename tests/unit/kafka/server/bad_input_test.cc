#include "kafka/server/bad_input.h"

#include <gtest/gtest.h>

namespace trib::kafka {
namespace {

TEST(bad_input_log, summarises_counts_per_kind_at_most_once_per_interval) {
    bad_input_log log(60'000);
    EXPECT_EQ(log.take_summary(1'000), "");  // starts the first interval
    log.note(bad_input::oversized_request);
    log.note(bad_input::oversized_request);
    log.note(bad_input::unsupported_api);
    EXPECT_EQ(log.take_summary(30'000), "");  // not a minute yet
    EXPECT_EQ(log.take_summary(61'000), "oversized_request=2 unsupported_api=1");
    // Counts start over; a quiet interval says nothing.
    EXPECT_EQ(log.take_summary(130'000), "");
    log.note(bad_input::stalled_request);
    EXPECT_EQ(log.take_summary(150'000), "");
    EXPECT_EQ(log.take_summary(191'000), "stalled_request=1");
    EXPECT_EQ(log.total(bad_input::oversized_request), 2U);
}

TEST(bad_input_log, every_kind_has_a_name) {
    for (size_t i = 0; i < bad_input_kinds; ++i) {
        EXPECT_STRNE(name_of(static_cast<bad_input>(i)), "unknown") << i;
    }
}

}  // namespace
}  // namespace trib::kafka
