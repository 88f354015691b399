// A partition moving between nodes, as one node sees it: a replica it moves to stays quiet
// until its leader makes it a voter, a leader whose new replica cannot catch up goes on
// serving and reports nothing, a cancelled move reports where it went back to, and the node
// a finished move leaves out deletes its copy. (Moves across real processes:
// tests/integration/test_reassignment.py.)
#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "unit/cluster/images.h"
#include "unit/cluster/raft_loop.h"
#include "unit/storage/test_log.h"

namespace trib::cluster {
namespace {

using storage::test::make_batch;
using storage::test::temp_dir;
using test::raft_loop;

TEST(partition_moves, a_replica_the_partition_moves_to_never_campaigns) {
    temp_dir dir;
    test::images img;
    img.create("t", 1, {}, 1);
    img.move("t", 0, {2});
    raft_loop node(dir.path(), 2);
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 2).has_value());
    auto p = pm.get("t", 0);
    ASSERT_NE(p, nullptr);  // it holds a replica to catch up on
    // Its group's voters are node 1's: it waits for node 1 to send it the log, however many
    // election timeouts pass.
    node.tick(*p, 50);
    EXPECT_FALSE(p->leader().local);
    EXPECT_EQ(p->replicas(), (std::vector<int32_t>{2, 1}));
}

TEST(partition_moves, a_leader_goes_on_serving_while_its_new_replica_cannot_catch_up) {
    temp_dir dir;
    test::images img;
    img.create("t", 1, {}, 1);
    std::vector<std::vector<int32_t>> reported;
    raft_loop node(dir.path(), 1);
    node.finish_move = [&](const std::string&, int32_t, std::vector<int32_t> v) {
        reported.push_back(std::move(v));
    };
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    auto p = pm.get("t", 0);
    ASSERT_TRUE(node.until_leading(*p));
    img.move("t", 0, {2, 1});  // node 2 is down: it never answers as a learner
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    EXPECT_EQ(node.write(*p, make_batch(3, 1000, "x")).code, replicate_errc::none);
    node.tick(*p, 30);
    EXPECT_TRUE(reported.empty());  // never a voter: nothing to report
    EXPECT_TRUE(p->leader().ready);
    EXPECT_EQ(node.write(*p, make_batch(3, 1000, "y")).code, replicate_errc::none);
    // Cancelled: the voters are the old replicas already, which the leader reports.
    img.move("t", 0, {});
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    node.tick(*p, 25);
    // Once, then again every 10 ticks until the controller's image shows it.
    ASSERT_EQ(reported.size(), 3u);
    EXPECT_EQ(reported.front(), (std::vector<int32_t>{1}));
    img.finish("t", 0);
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    EXPECT_EQ(p->replicas(), (std::vector<int32_t>{1}));
    EXPECT_EQ(p->high_watermark(), 6);
}

TEST(partition_moves, the_node_a_finished_move_leaves_out_deletes_its_copy) {
    temp_dir dir;
    test::images img;
    img.create("t", 1, {}, 1);
    raft_loop node(dir.path(), 1);
    auto& pm = node.open();
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    ASSERT_TRUE(node.until_leading(*pm.get("t", 0)));
    auto copy = dir.path() / "topics" / "t-0";
    img.move("t", 0, {2});
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    EXPECT_TRUE(std::filesystem::exists(copy));  // still a replica while it moves
    img.finish("t", 0);
    ASSERT_TRUE(pm.reconcile(img.now(), 1).has_value());
    EXPECT_EQ(pm.get("t", 0), nullptr);
    EXPECT_FALSE(std::filesystem::exists(copy));
}

}  // namespace
}  // namespace trib::cluster
