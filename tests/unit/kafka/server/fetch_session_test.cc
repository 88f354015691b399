#include "kafka/server/fetch_session.h"

#include <gtest/gtest.h>

#include "kafka/protocol/error_codes.h"

namespace trib::kafka {
namespace {

fetch_target target(const std::string& topic, int32_t partition, int64_t offset = 0) {
    return {.topic = topic, .partition = partition, .fetch_offset = offset, .max_bytes = 1024};
}

fetch_session_request full(int32_t epoch, std::vector<fetch_target> partitions,
                           int32_t session_id = 0) {
    return {.session_id = session_id, .epoch = epoch, .partitions = std::move(partitions)};
}

fetch_outcome quiet(int64_t hw) {
    return {.high_watermark = hw, .log_start = 0};
}

std::vector<std::string> names(const std::vector<fetch_target>& targets) {
    std::vector<std::string> out;
    for (const auto& t : targets)
        out.push_back(t.topic + "-" + std::to_string(t.partition));
    return out;
}

TEST(fetch_session, a_full_fetch_without_a_session_reads_what_it_names) {
    fetch_session_cache cache(10, 1000);
    auto r = cache.begin(full(-1, {target("a", 0), target("a", 1)}), 0);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.session_id, 0);
    EXPECT_FALSE(r.incremental);
    EXPECT_EQ(names(r.targets), (std::vector<std::string>{"a-0", "a-1"}));
    EXPECT_EQ(cache.size(), 0U);
}

TEST(fetch_session, epoch_zero_opens_a_session_and_later_requests_carry_only_changes) {
    fetch_session_cache cache(10, 1000);
    auto first = cache.begin(full(0, {target("a", 0), target("a", 1), target("b", 0)}), 0);
    ASSERT_NE(first.session_id, 0);
    EXPECT_FALSE(first.incremental);
    std::vector<fetch_outcome> outcomes{quiet(5), quiet(7), quiet(0)};
    cache.finish(first.session_id, outcomes, 1);

    // The client moved a-0 forward, dropped b-0 and added c-3.
    fetch_session_request next{.session_id = first.session_id, .epoch = 1};
    next.partitions = {target("a", 0, 5), target("c", 3, 9)};
    next.forgotten = {{"b", 0}};
    auto second = cache.begin(next, 2);
    ASSERT_EQ(second.error_code, 0);
    EXPECT_TRUE(second.incremental);
    EXPECT_EQ(second.session_id, first.session_id);
    EXPECT_EQ(names(second.targets), (std::vector<std::string>{"a-0", "a-1", "c-3"}));
    EXPECT_EQ(second.targets[0].fetch_offset, 5);
    EXPECT_EQ(second.targets[2].fetch_offset, 9);

    // Only what changed since the last response is worth sending.
    EXPECT_FALSE(fetch_session_cache::worth_sending(second.targets[1], quiet(7), true));
    EXPECT_TRUE(fetch_session_cache::worth_sending(second.targets[1], quiet(8), true));
    EXPECT_TRUE(fetch_session_cache::worth_sending(second.targets[2], quiet(0), true));
    fetch_outcome error = quiet(7);
    error.has_error = true;
    EXPECT_TRUE(fetch_session_cache::worth_sending(second.targets[1], error, true));
    EXPECT_TRUE(fetch_session_cache::worth_sending(second.targets[1], quiet(7), false));
}

TEST(fetch_session, partitions_that_returned_records_go_to_the_back) {
    fetch_session_cache cache(10, 1000);
    auto first = cache.begin(full(0, {target("a", 0), target("a", 1), target("a", 2)}), 0);
    std::vector<fetch_outcome> outcomes{quiet(5), quiet(5), quiet(5)};
    outcomes[0].has_records = true;
    cache.finish(first.session_id, outcomes, 1);
    auto next = cache.begin({.session_id = first.session_id, .epoch = 1}, 2);
    EXPECT_EQ(names(next.targets), (std::vector<std::string>{"a-1", "a-2", "a-0"}));
}

TEST(fetch_session, wrong_epochs_and_unknown_sessions_are_refused) {
    fetch_session_cache cache(10, 1000);
    auto first = cache.begin(full(0, {target("a", 0)}), 0);
    cache.finish(first.session_id, std::vector<fetch_outcome>{quiet(1)}, 0);

    EXPECT_EQ(cache.begin({.session_id = first.session_id, .epoch = 2}, 1).error_code,
              error_code::invalid_fetch_session_epoch);
    EXPECT_EQ(cache.begin({.session_id = first.session_id + 1, .epoch = 1}, 1).error_code,
              error_code::fetch_session_id_not_found);
    EXPECT_EQ(cache.begin({.session_id = 0, .epoch = 1}, 1).error_code,
              error_code::fetch_session_id_not_found);
    // The refusals did not consume the epoch.
    auto ok = cache.begin({.session_id = first.session_id, .epoch = 1}, 1);
    EXPECT_EQ(ok.error_code, 0);
    // A second request while the first is still being served is refused.
    EXPECT_EQ(cache.begin({.session_id = first.session_id, .epoch = 2}, 1).error_code,
              error_code::invalid_fetch_session_epoch);
    // A fetch that ended without a response (closed connection) releases the session as it was.
    cache.finish(ok.session_id, {}, 2);
    auto again = cache.begin({.session_id = first.session_id, .epoch = 2}, 3);
    EXPECT_EQ(again.error_code, 0);
    EXPECT_FALSE(fetch_session_cache::worth_sending(again.targets[0], quiet(1), true));
}

TEST(fetch_session, the_final_epoch_closes_the_session) {
    fetch_session_cache cache(10, 1000);
    auto first = cache.begin(full(0, {target("a", 0)}), 0);
    cache.finish(first.session_id, std::vector<fetch_outcome>{quiet(1)}, 0);
    auto closing = cache.begin(full(-1, {target("a", 0)}, first.session_id), 1);
    EXPECT_EQ(closing.session_id, 0);
    EXPECT_EQ(names(closing.targets), (std::vector<std::string>{"a-0"}));
    EXPECT_EQ(cache.size(), 0U);
    EXPECT_EQ(cache.begin({.session_id = first.session_id, .epoch = 1}, 1).error_code,
              error_code::fetch_session_id_not_found);
}

TEST(fetch_session, a_partition_named_twice_is_kept_once) {
    fetch_session_cache cache(10, 1000);
    auto r = cache.begin(full(0, {target("a", 0, 1), target("a", 0, 4)}), 0);
    ASSERT_EQ(r.targets.size(), 1U);
    EXPECT_EQ(r.targets[0].fetch_offset, 4);
}

TEST(fetch_session, a_full_cache_evicts_only_sessions_idle_past_the_eviction_time) {
    fetch_session_cache cache(2, 1000);
    auto a = cache.begin(full(0, {target("a", 0)}), 0);
    cache.finish(a.session_id, std::vector<fetch_outcome>{quiet(1)}, 0);
    auto b = cache.begin(full(0, {target("b", 0)}), 500);
    cache.finish(b.session_id, std::vector<fetch_outcome>{quiet(1)}, 500);

    // Nothing idle long enough: the newcomer fetches without a session.
    auto c = cache.begin(full(0, {target("c", 0)}), 900);
    EXPECT_EQ(c.session_id, 0);
    EXPECT_EQ(names(c.targets), (std::vector<std::string>{"c-0"}));

    // Later the least recently used one (a) makes room.
    auto d = cache.begin(full(0, {target("d", 0)}), 1200);
    EXPECT_NE(d.session_id, 0);
    EXPECT_EQ(cache.size(), 2U);
    EXPECT_EQ(cache.begin({.session_id = a.session_id, .epoch = 1}, 1300).error_code,
              error_code::fetch_session_id_not_found);
    EXPECT_EQ(cache.begin({.session_id = b.session_id, .epoch = 1}, 1300).error_code, 0);
}

TEST(fetch_session, no_slots_means_no_sessions) {
    fetch_session_cache cache(0, 1000);
    auto r = cache.begin(full(0, {target("a", 0)}), 0);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.session_id, 0);
}

}  // namespace
}  // namespace trib::kafka
