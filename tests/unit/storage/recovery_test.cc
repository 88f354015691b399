// Recovery tells a torn tail from corruption (issue: hardening before the cluster). Below the
// durable recovery point nothing is ever cut; a bad batch there, or one followed by batches
// that verify, is damage: kept, never served, the log takes no appends, the intact data
// around it stays readable, and salvage removes it without handing out an offset twice.
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "storage/errc.h"
#include "storage/log.h"
#include "storage/recovery_point.h"
#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

using test::make_batch;
using test::temp_dir;

constexpr int records_per_batch = 3;
const char* const first_segment = "00000000000000000000.log";

std::string value_of(int i) {
    return "v" + std::to_string(i) + std::string(200, 'x');
}

// Appends `n` batches of three records; with `flush`, makes them durable (the recovery point
// then covers them).
void write_batches(const std::filesystem::path& dir, int n, bool flush) {
    auto l = log::open(dir, {}).value();
    for (int i = 0; i < n; ++i) {
        auto b = make_batch(records_per_batch, 1000 + i, value_of(i));
        ASSERT_TRUE(l->append(b, 1000).has_value());
    }
    if (flush) {
        ASSERT_TRUE(l->flush().has_value());
    }
}

// Byte position of batch `i` in the first segment (all batches have the same size).
uint64_t position_of(int i) {
    return static_cast<uint64_t>(i) * make_batch(records_per_batch, 0, value_of(0)).size();
}

void flip_byte(const std::filesystem::path& file, uint64_t position) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(position));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(position));
    f.put(static_cast<char>(c ^ 0x20));
}

std::vector<int64_t> offsets_read(const log& l, int64_t from) {
    std::vector<int64_t> out;
    auto r = l.read(from, 1 << 20);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    if (!r) return out;
    model::batch_walker walk(r->data);
    for (;;) {
        auto h = walk.next();
        if (!h || !h->has_value()) break;
        out.push_back((*h)->base_offset);
    }
    return out;
}

TEST(recovery, a_flipped_byte_mid_segment_after_a_flush_is_damage_never_a_cut) {
    temp_dir dir;
    write_batches(dir.path(), 10, true);
    flip_byte(dir.path() / first_segment, position_of(4) + 100);  // inside batch 4's records
    auto l = log::open(dir.path(), {}).value();
    // Nothing was cut: the end and the batches after the damage are where they were.
    EXPECT_EQ(l->end_offset(), 30);
    ASSERT_EQ(l->damage().size(), 1U);
    auto d = l->damage()[0];
    EXPECT_EQ(d.first_offset, 12);
    EXPECT_EQ(d.next_offset, 15);
    EXPECT_EQ(d.position, position_of(4));
    EXPECT_EQ(d.size, position_of(1));
    // The intact data on both sides is served; the damaged batch never is.
    EXPECT_EQ(offsets_read(*l, 0), (std::vector<int64_t>{0, 3, 6, 9}));
    EXPECT_EQ(offsets_read(*l, 15), (std::vector<int64_t>{15, 18, 21, 24, 27}));
    for (int64_t o : {12, 13, 14}) {
        auto bad = l->read(o, 1 << 20);
        ASSERT_FALSE(bad.has_value());
        EXPECT_EQ(bad.error(), errc::log_damaged);
    }
    // No append: an offset must never be handed out twice.
    auto b = make_batch(1, 1, "next");
    auto appended = l->append(b, 0);
    ASSERT_FALSE(appended.has_value());
    EXPECT_EQ(appended.error(), errc::log_damaged);
    // Reopening finds the same damage (it is never forgotten by a restart).
    l.reset();
    EXPECT_EQ(log::open(dir.path(), {}).value()->damage(), std::vector<damaged_range>{d});
}

TEST(recovery, a_bad_batch_followed_by_good_ones_is_damage_even_above_the_recovery_point) {
    temp_dir dir;
    write_batches(dir.path(), 10, false);  // never flushed: the recovery point stays at 0
    {
        auto l = log::open(dir.path(), {}).value();  // syncs what survived: recovery point 30
    }
    // A log written by a process that died before its checkpoint: drop the checkpoint.
    std::filesystem::remove(dir.path() / recovery_point_file::name);
    flip_byte(dir.path() / first_segment, position_of(6) + 80);
    auto l = log::open(dir.path(), {}).value();
    EXPECT_EQ(l->end_offset(), 30);
    ASSERT_EQ(l->damage().size(), 1U);
    EXPECT_EQ(l->damage()[0].first_offset, 18);
}

TEST(recovery, a_torn_tail_above_the_recovery_point_is_cut) {
    temp_dir dir;
    write_batches(dir.path(), 4, true);  // recovery point 12
    {
        auto l = log::open(dir.path(), {}).value();
        for (int i = 4; i < 6; ++i) {  // unflushed
            auto b = make_batch(records_per_batch, 1000 + i, value_of(i));
            ASSERT_TRUE(l->append(b, 1000).has_value());
        }
        EXPECT_EQ(l->checkpoint().recovery_point, 12);
    }
    std::filesystem::resize_file(dir.path() / first_segment, position_of(5) + 40);
    auto l = log::open(dir.path(), {}).value();
    EXPECT_TRUE(l->damage().empty());
    EXPECT_EQ(l->end_offset(), 15);  // batch 5 was torn and cut; nothing below 12 was touched
    auto b = make_batch(1, 1, "next");
    EXPECT_EQ(l->append(b, 0)->base_offset, 15);
}

TEST(recovery, a_short_file_below_the_recovery_point_is_damage) {
    temp_dir dir;
    write_batches(dir.path(), 6, true);  // recovery point 18
    std::filesystem::resize_file(dir.path() / first_segment, position_of(4) + 40);
    auto l = log::open(dir.path(), {}).value();
    ASSERT_EQ(l->damage().size(), 1U);
    EXPECT_EQ(l->damage()[0].first_offset, 12);
    EXPECT_EQ(l->damage()[0].next_offset, -1) << "nothing verifies after it";
    EXPECT_EQ(offsets_read(*l, 0), (std::vector<int64_t>{0, 3, 6, 9}));
    EXPECT_EQ(l->read(12, 1 << 20).error(), errc::log_damaged);
    EXPECT_EQ(l->read(20, 1 << 20).error(), errc::log_damaged);
}

TEST(recovery, salvage_drops_only_the_damaged_batch_and_leaves_a_gap) {
    temp_dir dir;
    write_batches(dir.path(), 10, true);
    flip_byte(dir.path() / first_segment, position_of(4) + 100);
    auto dry = log::salvage(dir.path(), {}, false).value();
    ASSERT_TRUE(dry.has_value());
    EXPECT_FALSE(dry->applied);
    ASSERT_EQ(dry->damage.size(), 1U);
    EXPECT_EQ(dry->damage[0].first_offset, 12);
    EXPECT_EQ(dry->next_offset, 30);
    EXPECT_EQ(log::open(dir.path(), {}).value()->damage().size(), 1U)
        << "a dry run changes nothing";

    auto done = log::salvage(dir.path(), {}, true).value();
    ASSERT_TRUE(done && done->applied);
    auto l = log::open(dir.path(), {}).value();
    EXPECT_TRUE(l->damage().empty());
    EXPECT_EQ(l->end_offset(), 30);
    EXPECT_EQ(offsets_read(*l, 0), (std::vector<int64_t>{0, 3, 6, 9, 15, 18, 21, 24, 27}));
    EXPECT_EQ(offsets_read(*l, 12).front(), 15) << "a read in the gap continues after it";
    auto b = make_batch(1, 1, "next");
    EXPECT_EQ(l->append(b, 0)->base_offset, 30);
    EXPECT_FALSE(log::salvage(dir.path(), {}, true).value().has_value()) << "nothing left";
}

TEST(recovery, salvage_of_a_lost_tail_continues_past_every_offset_ever_handed_out) {
    temp_dir dir;
    write_batches(dir.path(), 6, true);
    auto reserved = log::open(dir.path(), {}).value()->checkpoint().reserved_end;
    EXPECT_GE(reserved, 18);
    flip_byte(dir.path() / first_segment, position_of(5) + 60);  // the last batch
    auto done = log::salvage(dir.path(), {}, true).value();
    ASSERT_TRUE(done && done->applied);
    EXPECT_EQ(done->next_offset, reserved);
    auto l = log::open(dir.path(), {}).value();
    EXPECT_TRUE(l->damage().empty());
    EXPECT_EQ(offsets_read(*l, 0), (std::vector<int64_t>{0, 3, 6, 9, 12}));
    auto b = make_batch(1, 1, "next");
    EXPECT_EQ(l->append(b, 0)->base_offset, reserved);
}

TEST(recovery, truncation_lowers_the_recovery_point_first) {
    temp_dir dir;
    write_batches(dir.path(), 6, true);
    auto l = log::open(dir.path(), {}).value();
    EXPECT_EQ(l->checkpoint().recovery_point, 18);
    ASSERT_TRUE(l->truncate(9).has_value());
    EXPECT_EQ(l->checkpoint().recovery_point, 9);
    // What is appended again after the cut is unsynced: a torn copy of it is cut at reopen,
    // not taken for damage.
    auto b = make_batch(records_per_batch, 1, value_of(3));
    ASSERT_TRUE(l->append(b, 0).has_value());
    l.reset();
    std::filesystem::resize_file(dir.path() / first_segment, position_of(3) + 50);
    auto reopened = log::open(dir.path(), {}).value();
    EXPECT_TRUE(reopened->damage().empty());
    EXPECT_EQ(reopened->end_offset(), 9);
}

TEST(recovery, appends_never_pass_the_durable_reservation) {
    temp_dir dir;
    auto l = log::open(dir.path(), {}).value();
    for (int i = 0; i < 5; ++i) {
        auto b = make_batch(records_per_batch, 1000 + i, value_of(i));
        ASSERT_TRUE(l->append(b, 1000).has_value());
        EXPECT_GT(l->checkpoint().reserved_end, l->end_offset() - 1);
    }
}

TEST(recovery_point_file, a_torn_slot_leaves_the_other) {
    temp_dir dir;
    {
        auto f = recovery_point_file::open(dir.path()).value();
        EXPECT_EQ(f.current(), (recovery_checkpoint{0, 0}));
        ASSERT_TRUE(f.write({10, 100}));
        ASSERT_TRUE(f.write({20, 200}));
    }
    EXPECT_EQ(recovery_point_file::open(dir.path()).value().current(),
              (recovery_checkpoint{20, 200}));
    // The newest slot (sequence 2, at byte 0) is torn: the older one is used.
    flip_byte(dir.path() / recovery_point_file::name, 14);
    EXPECT_EQ(recovery_point_file::open(dir.path()).value().current(),
              (recovery_checkpoint{10, 100}));
    // Both gone: nothing is trusted, which only means more is treated as possibly unsynced.
    flip_byte(dir.path() / recovery_point_file::name, 32 + 14);
    EXPECT_EQ(recovery_point_file::open(dir.path()).value().current(), (recovery_checkpoint{0, 0}));
}

}  // namespace
}  // namespace trib::storage
