// Kafka offsets over a Raft log: Raft's own batches take no Kafka offset, and the
// translation survives truncation and a snapshot that replaces the log's prefix.
#include "cluster/offset_translator.h"

#include <gtest/gtest.h>

namespace trib::cluster {
namespace {

TEST(offset_translator, raft_batches_are_invisible_to_kafka_offsets) {
    offset_translator t;
    t.reset(0, 0);
    t.add_internal(0, 0);  // the first leader's term start
    // data at raft 1..4, a new term at 5, data from 6 on
    t.add_internal(5, 5);
    EXPECT_EQ(t.to_kafka(0), 0);
    EXPECT_EQ(t.to_kafka(1), 0);
    EXPECT_EQ(t.to_kafka(4), 3);
    EXPECT_EQ(t.to_kafka(5), 4);  // an internal position: the next data record's
    EXPECT_EQ(t.to_kafka(6), 4);
    EXPECT_EQ(t.to_kafka(10), 8);
    for (int64_t k = 0; k < 10; ++k) {
        int64_t r = t.to_raft(k);
        EXPECT_NE(r, 0);
        EXPECT_NE(r, 5);
        EXPECT_EQ(t.to_kafka(r), k) << k;
    }
    EXPECT_EQ(t.to_raft(4), 6);
    EXPECT_EQ(t.internal_below(6), 2);
}

TEST(offset_translator, a_truncated_suffix_takes_its_internal_batches) {
    offset_translator t;
    t.reset(0, 0);
    t.add_internal(0, 0);
    t.add_internal(7, 7);
    t.truncate(7);
    EXPECT_EQ(t.to_kafka(9), 8);
    t.add_internal(8, 8);  // another leader's term start at 8
    EXPECT_EQ(t.to_kafka(9), 7);
    EXPECT_DEATH(t.add_internal(3, 3), "out of order");
}

TEST(offset_translator, a_snapshot_carries_what_its_prefix_held) {
    offset_translator t;
    t.reset(0, 0);
    t.add_internal(0, 0);
    t.add_internal(5, 5);
    auto bytes =
        offset_translator::encode_snapshot({.internal_below = t.internal_below(8), .log_start = 9});
    auto decoded = offset_translator::decode_snapshot(bytes).value();
    EXPECT_EQ(decoded.log_start, 9);
    offset_translator after;
    after.reset(8, decoded.internal_below);
    EXPECT_EQ(after.to_kafka(8), t.to_kafka(8));
    EXPECT_EQ(after.to_raft(6), t.to_raft(6));
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(offset_translator::decode_snapshot(std::span(bytes.data(), n))) << n;
    }
    bytes.push_back(0);
    EXPECT_FALSE(offset_translator::decode_snapshot(bytes));
}

}  // namespace
}  // namespace trib::cluster
