// Idempotent producers: sequences continue, retries of the last five batches are recognised
// with their offsets, gaps and old epochs are refused, the state comes back from the log after
// a restart, and producer ids never repeat across restarts.
#include "cluster/producer_state.h"

#include <fstream>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "cluster/partition_manager.h"
#include "cluster/producer_ids.h"
#include "unit/cluster/images.h"
#include "unit/cluster/raft_loop.h"
#include "unit/storage/test_log.h"

namespace trib::cluster {
namespace {

using namespace std::chrono_literals;
using storage::test::temp_dir;

model::batch_header batch(int64_t pid, int16_t epoch, int32_t seq, int32_t records) {
    model::batch_header h;
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.record_count = records;
    h.last_offset_delta = records - 1;
    return h;
}

TEST(producer_state, a_producer_starts_at_zero_and_continues_in_sequence) {
    producer_state s;
    EXPECT_EQ(s.check(batch(7, 0, 0, 3)).verdict, sequence_verdict::append);
    s.record(batch(7, 0, 0, 3), 100, 102, 0);
    EXPECT_EQ(s.check(batch(7, 0, 3, 2)).verdict, sequence_verdict::append);
    s.record(batch(7, 0, 3, 2), 103, 104, 0);
    EXPECT_EQ(s.check(batch(7, 0, 6, 1)).verdict, sequence_verdict::out_of_order);  // a gap
    EXPECT_EQ(s.check(batch(7, 0, 1, 2)).verdict, sequence_verdict::out_of_order);  // overlap
    EXPECT_EQ(s.check(batch(8, 0, 4, 1)).verdict, sequence_verdict::unknown_producer);
}

TEST(producer_state, retries_of_the_last_five_batches_get_their_offsets) {
    producer_state s;
    for (int i = 0; i < 7; ++i) {
        auto h = batch(1, 0, i * 10, 10);
        ASSERT_EQ(s.check(h).verdict, sequence_verdict::append) << i;
        s.record(h, 1000 + i * 10, 1009 + i * 10, 0);
    }
    for (int i = 2; i < 7; ++i) {
        auto c = s.check(batch(1, 0, i * 10, 10));
        EXPECT_EQ(c.verdict, sequence_verdict::duplicate) << i;
        EXPECT_EQ(c.base_offset, 1000 + i * 10);
        EXPECT_EQ(c.last_offset, 1009 + i * 10);
    }
    // Older than the cache: neither next nor a known retry.
    EXPECT_EQ(s.check(batch(1, 0, 10, 10)).verdict, sequence_verdict::out_of_order);
}

TEST(producer_state, epochs_fence_old_incarnations_and_restart_the_sequence) {
    producer_state s;
    s.record(batch(1, 3, 0, 5), 0, 4, 0);
    EXPECT_EQ(s.check(batch(1, 2, 5, 1)).verdict, sequence_verdict::invalid_epoch);
    EXPECT_EQ(s.check(batch(1, 4, 5, 1)).verdict, sequence_verdict::out_of_order);
    EXPECT_EQ(s.check(batch(1, 4, 0, 1)).verdict, sequence_verdict::append);
    s.record(batch(1, 4, 0, 1), 5, 5, 0);
    EXPECT_EQ(s.check(batch(1, 3, 5, 1)).verdict, sequence_verdict::invalid_epoch);
    EXPECT_EQ(s.check(batch(1, 4, 1, 1)).verdict, sequence_verdict::append);
}

TEST(producer_state, sequences_wrap_after_int32_max) {
    producer_state wrapping;
    auto last = batch(2, 0, INT32_MAX - 1, 2);  // INT32_MAX - 1 and INT32_MAX
    wrapping.record(last, 0, 1, 0);
    EXPECT_EQ(last_sequence_of(last), INT32_MAX);
    EXPECT_EQ(wrapping.check(batch(2, 0, 0, 1)).verdict, sequence_verdict::append);
    EXPECT_EQ(last_sequence_of(batch(2, 0, INT32_MAX, 3)), 1);
}

TEST(producer_state, producers_silent_past_the_expiration_are_forgotten) {
    producer_state s;
    s.set_expiration_ms(1000);
    s.record(batch(1, 0, 0, 1), 0, 0, 10'000);
    s.record(batch(2, 0, 0, 1), 1, 1, 10'500);
    EXPECT_EQ(s.expire(11'000), 0U);
    EXPECT_EQ(s.expire(11'200), 1U);  // producer 1, silent for 1200 ms
    EXPECT_EQ(s.producers(), 1U);
    EXPECT_EQ(s.check(batch(1, 0, 1, 1)).verdict, sequence_verdict::unknown_producer);
    EXPECT_EQ(s.check(batch(2, 0, 1, 1)).verdict, sequence_verdict::append);
    // Sweeps also happen on their own as records arrive.
    for (int i = 1; i <= static_cast<int>(producer_state::sweep_every); ++i)
        s.record(batch(3, 0, i - 1, 1), i, i, 20'000);
    EXPECT_EQ(s.producers(), 1U);  // only producer 3 is left
}

TEST(producer_state, producers_whose_batches_all_lie_below_the_log_start_are_forgotten) {
    producer_state s;
    s.record(batch(1, 0, 0, 10), 0, 9, 0);    // producer 1: only below the new start
    s.record(batch(2, 0, 0, 10), 10, 19, 0);  // producer 2: one batch below, one above
    s.record(batch(2, 0, 10, 10), 20, 29, 0);
    EXPECT_EQ(s.forget_before(20), 1U);
    EXPECT_EQ(s.producers(), 1U);
    EXPECT_EQ(s.check(batch(1, 0, 10, 1)).verdict, sequence_verdict::unknown_producer);
    EXPECT_EQ(s.check(batch(2, 0, 20, 1)).verdict, sequence_verdict::append);
    EXPECT_EQ(s.check(batch(2, 0, 10, 10)).verdict, sequence_verdict::duplicate);  // kept
    // The batch below the start is gone, as from state rebuilt from the start on.
    EXPECT_EQ(s.check(batch(2, 0, 0, 10)).verdict, sequence_verdict::out_of_order);
    EXPECT_EQ(s.forget_before(20), 0U);
}

std::vector<uint8_t> idempotent_batch(int64_t pid, int32_t seq, int records) {
    model::batch_options o;
    o.producer_id = pid;
    o.producer_epoch = 0;
    o.base_sequence = seq;
    std::vector<model::record> rs(static_cast<size_t>(records));
    for (auto& r : rs) {
        r.timestamp = wall_clock_ms();  // recent: older producers expire at open
        r.value = std::vector<uint8_t>{1, 2, 3};
    }
    return model::build_batch(o, rs).value();
}

TEST(producer_state, comes_back_from_the_log_after_a_restart) {
    temp_dir dir;
    test::images img;
    img.create("t", 1);
    std::vector<replicate_result> first;
    {
        test::raft_loop node(dir.path());
        auto& pm = node.open();
        ASSERT_TRUE(pm.reconcile(img.now(), 1));
        auto part = pm.get("t", 0);
        ASSERT_TRUE(node.until_leading(*part));
        for (int i = 0; i < 3; ++i) {
            first.push_back(node.write(*part, idempotent_batch(42, i * 4, 4)));
            ASSERT_EQ(first.back().code, replicate_errc::none);
        }
        // A retry while the leader still runs: the original's offsets, nothing written.
        auto end = part->log().end_offset();
        auto retry = node.write(*part, idempotent_batch(42, 4, 4));
        EXPECT_EQ(retry.base_offset, first[1].base_offset);
        EXPECT_EQ(part->log().end_offset(), end);
    }
    test::raft_loop node(dir.path());
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1));
    auto part = pm.get("t", 0);
    ASSERT_TRUE(node.until_leading(*part));
    auto retry = node.write(*part, idempotent_batch(42, 4, 4));
    ASSERT_EQ(retry.code, replicate_errc::none);
    EXPECT_EQ(retry.base_offset, first[1].base_offset);
    EXPECT_EQ(retry.last_offset, first[1].last_offset);
    auto gap = node.write(*part, idempotent_batch(42, 20, 1));
    EXPECT_EQ(gap.code, replicate_errc::sequence);
    EXPECT_EQ(gap.verdict, sequence_verdict::out_of_order);
    auto next = node.write(*part, idempotent_batch(42, 12, 1));
    ASSERT_EQ(next.code, replicate_errc::none);
    EXPECT_GT(next.base_offset, first[2].last_offset);
}

TEST(producer_ids, come_from_the_block_in_hand_until_it_runs_out) {
    producer_id_allocator ids;
    EXPECT_FALSE(ids.try_next().has_value());
    ids.add_block(5000, 3);
    EXPECT_EQ(ids.try_next(), 5000);
    ids.add_block(9000, 3);  // a second refill while the first lasts is skipped
    EXPECT_EQ(ids.try_next(), 5001);
    EXPECT_EQ(ids.try_next(), 5002);
    EXPECT_FALSE(ids.try_next().has_value());
    ids.add_block(9000, 3);
    EXPECT_EQ(ids.try_next(), 9000);
}

TEST(producer_ids, the_single_node_file_gives_the_first_free_id) {
    temp_dir dir;
    EXPECT_EQ(producer_id_allocator::read_legacy_next(dir.path()).value(), 0);
    std::ofstream(dir.path() / "producer_ids") << "3000\n";
    EXPECT_EQ(producer_id_allocator::read_legacy_next(dir.path()).value(), 3000);
}

TEST(producer_ids, a_damaged_file_is_an_error_not_a_reuse) {
    temp_dir dir;
    std::ofstream(dir.path() / "producer_ids") << "12x\n";
    auto ids = producer_id_allocator::read_legacy_next(dir.path());
    ASSERT_FALSE(ids.has_value());
    EXPECT_NE(ids.error().message.find("producer_ids"), std::string::npos);
}

}  // namespace
}  // namespace trib::cluster
