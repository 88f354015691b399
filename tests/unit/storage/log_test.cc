// The partition log: append and read, rolling, reopening, recovery from torn and corrupt
// tails, corruption in old segments, truncation, start offset, retention, timestamps, flush.
#include "storage/log.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "storage/errc.h"
#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

using test::make_batch;
using test::temp_dir;

log_config small_segments() {
    log_config c;
    c.segment_bytes = 4096;
    c.index_interval_bytes = 512;
    return c;
}

std::unique_ptr<log> open_log(const std::filesystem::path& dir, log_config c = {}) {
    auto l = log::open(dir, c);
    EXPECT_TRUE(l.has_value()) << (l ? "" : l.error().message());
    return l ? std::move(*l) : nullptr;
}

void append_n(log& l, int n, int64_t first_ts = 1000, int records = 3) {
    for (int i = 0; i < n; ++i) {
        // About 700 bytes a batch: a 4 KiB segment holds five or six.
        auto b =
            make_batch(records, first_ts + i * 10, "v" + std::to_string(i) + std::string(200, 'x'));
        ASSERT_TRUE(l.append(b, first_ts + i * 10).has_value());
    }
}

// Offsets of every batch in `data`, checking each verifies.
std::vector<int64_t> batch_offsets(std::span<const uint8_t> data) {
    std::vector<int64_t> out;
    model::batch_walker walk(data);
    for (;;) {
        auto h = walk.next();
        EXPECT_TRUE(h.has_value());
        if (!h || !h->has_value()) break;
        out.push_back((*h)->base_offset);
    }
    EXPECT_FALSE(walk.truncated_tail());
    return out;
}

TEST(log, appends_assign_consecutive_offsets_and_read_back) {
    temp_dir dir;
    auto l = open_log(dir.path());
    for (int i = 0; i < 10; ++i) {
        auto b = make_batch(3, 1000 + i, "x");
        auto r = l->append(b, 0);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->base_offset, i * 3);
        EXPECT_EQ(r->last_offset, i * 3 + 2);
    }
    EXPECT_EQ(l->end_offset(), 30);
    auto all = l->read(0, 1 << 20);
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(batch_offsets(all->data), (std::vector<int64_t>{0, 3, 6, 9, 12, 15, 18, 21, 24, 27}));
    EXPECT_EQ(all->next_offset, 30);
    // From the middle of a batch: the whole batch holding the offset comes first.
    auto mid = l->read(13, 1 << 20);
    ASSERT_TRUE(mid.has_value());
    EXPECT_EQ(batch_offsets(mid->data).front(), 12);
    // A byte limit smaller than one batch still returns that batch whole.
    auto one = l->read(0, 1);
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(batch_offsets(one->data), (std::vector<int64_t>{0}));
    EXPECT_EQ(one->next_offset, 3);
    // max_offset stops before batches at or past it (the high watermark).
    auto below = l->read(0, 1 << 20, 9);
    EXPECT_EQ(batch_offsets(below->data), (std::vector<int64_t>{0, 3, 6}));
    EXPECT_EQ(l->read(30, 100)->data.size(), 0u);
    EXPECT_EQ(l->read(31, 100).error(), errc::offset_out_of_range);
    EXPECT_EQ(l->read(-1, 100).error(), errc::offset_out_of_range);
}

TEST(log, bad_batches_are_refused_and_leave_the_log_unchanged) {
    temp_dir dir;
    log_config c;
    c.max_batch_bytes = 2000;
    auto l = open_log(dir.path(), c);
    std::vector<uint8_t> tiny(10, 0);
    EXPECT_EQ(l->append(tiny, 0).error(), errc::invalid_batch);
    auto corrupt = make_batch(2, 1, "x");
    corrupt.back() ^= 1;
    EXPECT_EQ(l->append(corrupt, 0).error(), errc::invalid_batch);
    auto big = make_batch(1, 1, std::string(3000, 'x'));
    EXPECT_EQ(l->append(big, 0).error(), errc::batch_too_large);
    auto two = make_batch(1, 1, "a");
    auto second = make_batch(1, 1, "b");
    two.insert(two.end(), second.begin(), second.end());
    EXPECT_EQ(l->append(two, 0).error(), errc::invalid_batch) << "one batch per append";
    EXPECT_EQ(l->end_offset(), 0);
    EXPECT_EQ(l->size_bytes(), 0u);
}

TEST(log, rolls_by_size_and_by_age_and_reads_across_segments) {
    temp_dir dir;
    auto c = small_segments();
    c.segment_ms = 1000;
    auto l = open_log(dir.path(), c);
    append_n(*l, 40);
    EXPECT_GT(l->segment_count(), 3u);
    auto all = l->read(0, 1 << 20);
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(batch_offsets(all->data).size(), 40u);
    EXPECT_EQ(all->next_offset, 120);
    // Small byte budgets stop inside segments; reading on from next_offset misses nothing.
    for (size_t budget : {size_t{1}, size_t{1500}, size_t{5000}}) {
        int64_t offset = 0;
        while (offset < 120) {
            auto r = l->read(offset, budget);
            ASSERT_TRUE(r.has_value());
            auto offsets = batch_offsets(r->data);
            ASSERT_FALSE(offsets.empty());
            for (int64_t o : offsets) {
                ASSERT_EQ(o, offset) << "budget " << budget;
                offset += 3;
            }
            ASSERT_EQ(r->next_offset, offset);
            ASSERT_LE(r->data.size(), std::max<size_t>(budget, 800));
        }
    }
    size_t before = l->segment_count();
    auto b = make_batch(1, 5000, "late");
    ASSERT_TRUE(l->append(b, 1000 + 39 * 10 + 1500).has_value());  // past segment.ms
    EXPECT_EQ(l->segment_count(), before + 1);
}

TEST(log, reopening_keeps_everything_and_continues_the_offsets) {
    temp_dir dir;
    {
        auto l = open_log(dir.path(), small_segments());
        append_n(*l, 30);
        ASSERT_TRUE(l->flush().has_value());
    }
    auto l = open_log(dir.path(), small_segments());
    EXPECT_EQ(l->end_offset(), 90);
    EXPECT_EQ(l->flushed_offset(), 90);
    auto r = l->read(45, 1 << 20);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(batch_offsets(r->data).front(), 45);
    auto b = make_batch(2, 1, "after");
    EXPECT_EQ(l->append(b, 0)->base_offset, 90);
}

TEST(log, missing_or_damaged_indexes_are_rebuilt) {
    temp_dir dir;
    {
        auto l = open_log(dir.path(), small_segments());
        append_n(*l, 30);
    }
    size_t touched = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        if (e.path().extension() == ".index") {
            if (touched++ % 2 == 0) {
                std::filesystem::remove(e.path());
            } else {
                std::ofstream(e.path(), std::ios::app) << "junk";
            }
        }
    }
    ASSERT_GT(touched, 2u);
    auto l = open_log(dir.path(), small_segments());
    for (int64_t o = 0; o < 90; o += 7) {
        auto r = l->read(o, 1);
        ASSERT_TRUE(r.has_value()) << o;
        EXPECT_EQ(batch_offsets(r->data).front(), o - o % 3) << o;
    }
}

TEST(log, recovery_cuts_a_torn_or_corrupt_tail_at_the_last_whole_batch) {
    for (int damage = 0; damage < 3; ++damage) {
        temp_dir dir;
        {
            auto l = open_log(dir.path());
            append_n(*l, 5);
        }
        auto seg = dir.path() / "00000000000000000000.log";
        auto size = std::filesystem::file_size(seg);
        if (damage == 0) std::filesystem::resize_file(seg, size - 7);  // torn last batch
        if (damage == 1) std::ofstream(seg, std::ios::app) << std::string(30, '\xff');  // junk
        if (damage == 2) {  // a flipped byte inside the last batch
            std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(size - 3));
            f.put('\x55');
        }
        auto l = open_log(dir.path());
        int64_t expected_end = damage == 1 ? 15 : 12;
        EXPECT_EQ(l->end_offset(), expected_end) << damage;
        auto r = l->read(0, 1 << 20);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(static_cast<int64_t>(batch_offsets(r->data).size()), expected_end / 3);
        auto b = make_batch(1, 1, "next");
        EXPECT_EQ(l->append(b, 0)->base_offset, expected_end);
    }
}

TEST(log, corruption_in_an_old_segment_is_reported_and_never_served) {
    temp_dir dir;
    size_t first_batch_size = 0;
    {
        auto l = open_log(dir.path(), small_segments());
        append_n(*l, 30);
        first_batch_size = l->read(0, 1)->data.size();
    }
    auto first = dir.path() / "00000000000000000000.log";
    {
        std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(first_batch_size + 100));  // inside the second batch
        f.put('\x5a');
    }
    auto l = open_log(dir.path(), small_segments());  // old segments are not rescanned
    EXPECT_EQ(l->end_offset(), 90);
    // A read stops before the damaged batch: the one before it is served, the damaged one
    // never is, and reading at it is an error.
    auto prefix = l->read(0, 1 << 20);
    ASSERT_TRUE(prefix.has_value());
    EXPECT_EQ(batch_offsets(prefix->data), std::vector<int64_t>{0});
    EXPECT_EQ(prefix->next_offset, 3);
    auto bad = l->read(3, 1 << 20);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), errc::corrupt_data);
    auto later = l->read(l->end_offset() - 3, 1 << 20);  // later segments are fine
    ASSERT_TRUE(later.has_value());
}

TEST(log, truncate_removes_the_suffix_at_batch_boundaries) {
    temp_dir dir;
    auto l = open_log(dir.path(), small_segments());
    append_n(*l, 30);
    size_t segments = l->segment_count();
    EXPECT_EQ(l->truncate(31).error(), errc::not_a_batch_boundary);
    ASSERT_TRUE(l->truncate(30).has_value());
    EXPECT_EQ(l->end_offset(), 30);
    EXPECT_LT(l->segment_count(), segments);
    auto b = make_batch(1, 1, "new");
    EXPECT_EQ(l->append(b, 0)->base_offset, 30);
    ASSERT_TRUE(l->truncate(0).has_value());
    EXPECT_EQ(l->end_offset(), 0);
    EXPECT_EQ(l->read(0, 100)->data.size(), 0u);
    l.reset();
    auto again = open_log(dir.path(), small_segments());
    EXPECT_EQ(again->end_offset(), 0);
}

TEST(log, start_offset_moves_forward_durably) {
    temp_dir dir;
    {
        auto l = open_log(dir.path(), small_segments());
        append_n(*l, 30);
        size_t segments = l->segment_count();
        ASSERT_TRUE(l->advance_start_offset(50).has_value());
        EXPECT_EQ(l->start_offset(), 50);
        EXPECT_LT(l->segment_count(), segments);
        EXPECT_EQ(l->read(49, 100).error(), errc::offset_out_of_range);
        EXPECT_TRUE(l->read(50, 100).has_value());
        EXPECT_TRUE(l->advance_start_offset(10).has_value());  // never backwards
        EXPECT_EQ(l->start_offset(), 50);
        EXPECT_EQ(l->advance_start_offset(91).error(), errc::offset_out_of_range);
    }
    auto l = open_log(dir.path(), small_segments());
    EXPECT_EQ(l->start_offset(), 50);
    EXPECT_EQ(l->end_offset(), 90);
}

TEST(log, retention_by_size_and_time_deletes_whole_old_segments) {
    temp_dir dir;
    auto c = small_segments();
    c.retention_bytes = 8192;
    auto l = open_log(dir.path(), c);
    append_n(*l, 60);
    uint64_t before = l->size_bytes();
    auto dropped = l->apply_retention(0);
    ASSERT_TRUE(dropped.has_value());
    EXPECT_GT(*dropped, 0u);
    EXPECT_LT(l->size_bytes(), before);
    EXPECT_GE(l->size_bytes(), 8192u);  // never below retention.bytes
    EXPECT_LT(l->size_bytes(), 8192u + 4096u + 1024u);
    EXPECT_GT(l->start_offset(), 0);
    EXPECT_EQ(l->end_offset(), 180);

    temp_dir dir2;
    auto c2 = small_segments();
    c2.retention_ms = 100;
    auto timed = open_log(dir2.path(), c2);
    append_n(*timed, 40, 1000);  // timestamps 1000 .. 1390
    size_t segments = timed->segment_count();
    EXPECT_EQ(*timed->apply_retention(1000), 0u);  // nothing older than 100 ms yet
    EXPECT_GT(*timed->apply_retention(1300), 0u);
    EXPECT_LT(timed->segment_count(), segments);
    ASSERT_TRUE(timed->apply_retention(100000).has_value());
    EXPECT_EQ(timed->segment_count(), 1u);  // the active segment stays
    EXPECT_EQ(timed->end_offset(), 120);
}

TEST(log, offset_for_timestamp_finds_the_first_record_at_or_after) {
    temp_dir dir;
    auto l = open_log(dir.path(), small_segments());
    append_n(*l, 30, 1000);  // batch i: records at 1000 + 10 i, +1, +2
    auto at = [&](int64_t ts) { return l->offset_for_timestamp(ts).value(); };
    EXPECT_EQ(at(0)->offset, 0);
    EXPECT_EQ(at(1000)->offset, 0);
    EXPECT_EQ(at(1001)->offset, 1);
    EXPECT_EQ(at(1003)->offset, 3);
    EXPECT_EQ(at(1003)->timestamp, 1010);
    EXPECT_EQ(at(1292)->offset, 89);
    EXPECT_FALSE(at(1293).has_value());
}

TEST(log, flush_reports_the_durable_offset) {
    temp_dir dir;
    auto l = open_log(dir.path());
    EXPECT_EQ(l->flushed_offset(), 0);
    append_n(*l, 3);
    EXPECT_EQ(l->flushed_offset(), 0);
    EXPECT_FALSE(l->wait_flushed(0, std::chrono::milliseconds(1)));
    auto f = l->flush();
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(*f, 9);
    EXPECT_TRUE(l->wait_flushed(8, std::chrono::milliseconds(1)));
    ASSERT_TRUE(l->truncate(3).has_value());
    EXPECT_EQ(l->flushed_offset(), 3);
}

}  // namespace
}  // namespace trib::storage
