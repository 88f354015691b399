// The background cleaner: retention runs on its own, compaction only past the dirty ratio
// and only below the cleanable limit (the flushed offset by default).
#include "storage/cleaner.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

using namespace std::chrono_literals;
using test::temp_dir;

// Waits for the cleaner to finish a pass that started after this call.
void run_pass(cleaner& c) {
    uint64_t before = c.passes();
    c.wake_up();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (c.passes() < before + 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    ASSERT_GE(c.passes(), before + 1) << "the cleaner did not run";
}

// Batches that all write the same five keys, so compaction has plenty to remove.
void append_duplicates(log& l, int batches, int64_t ts) {
    for (int i = 0; i < batches; ++i) {
        std::vector<model::record> rs(5);
        for (int k = 0; k < 5; ++k) {
            auto key = "key" + std::to_string(k);
            rs[k].timestamp = ts;
            rs[k].key.emplace(key.begin(), key.end());
            rs[k].value.emplace(100, uint8_t('a' + i % 26));
        }
        auto b = model::build_batch({}, rs).value();
        ASSERT_TRUE(l.append(b, ts).has_value());
    }
}

log_config small(bool compact) {
    log_config c;
    c.segment_bytes = 2048;
    c.index_interval_bytes = 256;
    c.cleanup_compact = compact;
    c.cleanup_delete = !compact;
    c.retention_ms = 1000;
    return c;
}

TEST(cleaner, applies_retention_in_the_background) {
    temp_dir dir;
    auto l = std::shared_ptr<log>(log::open(dir.path(), small(false)).value());
    append_duplicates(*l, 40, 1000);
    ASSERT_GT(l->segment_count(), 2u);
    cleaner c(1h, [] { return int64_t{1000 + 5000}; });  // records are 5 s old: expired
    c.add(l);
    run_pass(c);
    EXPECT_EQ(l->segment_count(), 1u);
    EXPECT_GT(l->start_offset(), 0);
}

TEST(cleaner, hands_retention_to_the_logs_owner_when_asked) {
    temp_dir dir;
    auto l = std::shared_ptr<log>(log::open(dir.path(), small(false)).value());
    append_duplicates(*l, 40, 1000);
    size_t segments = l->segment_count();
    ASSERT_GT(segments, 2u);
    cleaner c(1h, [] { return int64_t{1000 + 5000}; });
    std::atomic<int64_t> told{-1};
    c.add(l, {}, [&](int64_t start) { told = start; });
    run_pass(c);
    // Nothing deleted: the owner moves the start (a Raft log moves its snapshot point first).
    EXPECT_EQ(l->segment_count(), segments);
    EXPECT_EQ(l->start_offset(), 0);
    EXPECT_EQ(told.load(), l->retention_start(1000 + 5000).value());
    EXPECT_TRUE(l->advance_start_offset(told.load()).has_value());
    EXPECT_EQ(l->segment_count(), 1u);
    EXPECT_FALSE(l->retention_start(1000 + 5000).has_value());  // nothing more is due
}

TEST(cleaner, compacts_only_what_is_flushed_and_dirty) {
    temp_dir dir;
    auto l = std::shared_ptr<log>(log::open(dir.path(), small(true)).value());
    append_duplicates(*l, 40, 1000);
    EXPECT_DOUBLE_EQ(l->dirty_ratio(), 1.0);
    cleaner c(1h, [] { return int64_t{2000}; });
    c.add(l);
    uint64_t size = l->size_bytes();
    run_pass(c);
    EXPECT_EQ(l->size_bytes(), size);  // nothing flushed yet: nothing may be cleaned
    ASSERT_TRUE(l->flush().has_value());
    run_pass(c);
    EXPECT_LT(l->size_bytes(), size);
    EXPECT_DOUBLE_EQ(l->dirty_ratio(), 0.0);
    // New closed segments make it dirty again.
    append_duplicates(*l, 40, 1000);
    EXPECT_GT(l->dirty_ratio(), 0.5);
}

TEST(cleaner, min_compaction_lag_keeps_recent_records_uncompacted) {
    temp_dir dir;
    auto cfg = small(true);
    cfg.min_compaction_lag_ms = 10'000;
    auto l = std::shared_ptr<log>(log::open(dir.path(), cfg).value());
    append_duplicates(*l, 40, 1000);
    ASSERT_TRUE(l->flush().has_value());
    int64_t now = 5000;  // records 4 s old: younger than the lag
    cleaner c(1h, [&now] { return now; });
    c.add(l);
    uint64_t size = l->size_bytes();
    EXPECT_EQ(l->compaction_lag_limit(now), 0);
    run_pass(c);
    EXPECT_EQ(l->size_bytes(), size);
    now = 11'001;  // older than the lag now
    EXPECT_EQ(l->compaction_lag_limit(now), INT64_MAX);
    run_pass(c);
    EXPECT_LT(l->size_bytes(), size);
}

TEST(cleaner, max_compaction_lag_compacts_below_the_dirty_ratio) {
    temp_dir dir;
    auto cfg = small(true);
    cfg.min_cleanable_dirty_ratio = 1.0;  // never dirty enough by the ratio alone
    auto l = std::shared_ptr<log>(log::open(dir.path(), cfg).value());
    append_duplicates(*l, 40, 1000);
    ASSERT_TRUE(l->flush().has_value());
    cleaner c(1h, [] { return int64_t{2000}; });
    c.add(l);
    run_pass(c);  // the first pass cleans everything (all dirty: ratio 1.0)
    uint64_t size = l->size_bytes();
    append_duplicates(*l, 40, 3000);
    ASSERT_TRUE(l->flush().has_value());
    ASSERT_LT(l->dirty_ratio(), 1.0);
    EXPECT_FALSE(l->compaction_overdue(2500, INT64_MAX));  // no lag set
    log_config overdue = cfg;
    // The oldest uncompacted record is from 1000 (the segment that was active at the first
    // pass): with a 2.5 s lag it is overdue from 3500.
    overdue.max_compaction_lag_ms = 2500;
    l->set_config(overdue);
    EXPECT_FALSE(l->compaction_overdue(3499, INT64_MAX));
    EXPECT_TRUE(l->compaction_overdue(3500, INT64_MAX));
    uint64_t grown = l->size_bytes();
    cleaner late(1h, [] { return int64_t{3500}; });
    late.add(l);
    run_pass(late);
    EXPECT_LT(l->size_bytes(), grown);
    EXPECT_GT(grown, size);
}

}  // namespace
}  // namespace trib::storage
