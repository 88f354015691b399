// What an idempotent producer's batches get from a leader that refuses one of them unwritten:
// the batches behind it are refused alike (retriable), never OUT_OF_ORDER_SEQUENCE_NUMBER,
// which would make librdkafka bump its epoch and renumber what it has unacknowledged.
#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "unit/cluster/images.h"
#include "unit/cluster/raft_loop.h"
#include "unit/storage/test_log.h"

namespace trib::cluster {
namespace {

using storage::test::temp_dir;
using test::raft_loop;

std::vector<uint8_t> idempotent_batch(int32_t sequence, int16_t epoch = 0) {
    model::record r;
    r.value = std::vector<uint8_t>{'v'};
    model::batch_options o{.producer_id = 7, .producer_epoch = epoch, .base_sequence = sequence};
    return model::build_batch(o, std::span(&r, 1)).value();
}

replicate_result write(raft_loop& node, partition& p, std::vector<uint8_t> batch,
                       int32_t min_insync) {
    return node.write(p, std::move(batch), acks_level::all, min_insync);
}

TEST(partition_produce, batches_behind_a_refused_one_are_refused_alike) {
    temp_dir dir;
    test::images img;
    img.create("t", 1, {}, 1);
    raft_loop node(dir.path(), 1);
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    auto p = pm.get("t", 0);
    ASSERT_TRUE(node.until_leading(*p));
    EXPECT_EQ(write(node, *p, idempotent_batch(0), 1).code, replicate_errc::none);
    // Sequence 1 is refused unwritten (more replicas in sync asked than there are)...
    EXPECT_EQ(write(node, *p, idempotent_batch(1), 2).code, replicate_errc::not_enough_replicas);
    // ...so 2, sent behind it and now allowed through, is refused the same way, retriable.
    EXPECT_EQ(write(node, *p, idempotent_batch(2), 1).code, replicate_errc::not_enough_replicas);
    // The retries in order go in.
    EXPECT_EQ(write(node, *p, idempotent_batch(1), 1).code, replicate_errc::none);
    EXPECT_EQ(write(node, *p, idempotent_batch(2), 1).code, replicate_errc::none);
    // A real gap, with nothing refused before it, is still out of order.
    auto gap = write(node, *p, idempotent_batch(9), 1);
    EXPECT_EQ(gap.code, replicate_errc::sequence);
    EXPECT_EQ(gap.verdict, sequence_verdict::out_of_order);
    // A new epoch starts a new sequence: the refusal under the old one does not excuse it.
    EXPECT_EQ(write(node, *p, idempotent_batch(3), 2).code, replicate_errc::not_enough_replicas);
    EXPECT_EQ(write(node, *p, idempotent_batch(5, 1), 1).code, replicate_errc::sequence);
}

}  // namespace
}  // namespace trib::cluster
