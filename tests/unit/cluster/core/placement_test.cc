// Replica placement: even spread of replicas and preferred leaders, racks, too few brokers.
#include "cluster/core/placement.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "test_image.h"

namespace trib::cluster::core {
namespace {

using testing::log_image;
using testing::make_broker;
using testing::make_id;
using testing::make_topic;

std::map<node_id, int> count(const std::vector<replica_list>& parts, bool leaders_only) {
    std::map<node_id, int> n;
    for (const auto& r : parts) {
        for (size_t i = 0; i < (leaders_only ? 1 : r.size()); ++i) {
            ++n[r[i]];
        }
    }
    return n;
}

TEST(Placement, SpreadsReplicasAndLeadersEvenly) {
    log_image l(3);
    auto placed = place_replicas(l.img, 6, 3);
    ASSERT_TRUE(placed);
    ASSERT_EQ(placed->size(), 6u);
    for (const auto& r : *placed) {
        EXPECT_EQ(std::set<node_id>(r.begin(), r.end()).size(), 3u);
    }
    EXPECT_EQ(count(*placed, true), (std::map<node_id, int>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST(Placement, TwoReplicasOnThreeBrokersBalanceBoth) {
    log_image l(3);
    auto placed = place_replicas(l.img, 3, 2);
    ASSERT_TRUE(placed);
    EXPECT_EQ(count(*placed, false), (std::map<node_id, int>{{1, 2}, {2, 2}, {3, 2}}));
    EXPECT_EQ(count(*placed, true), (std::map<node_id, int>{{1, 1}, {2, 1}, {3, 1}}));
}

TEST(Placement, SingleReplicasGoRoundTheBrokers) {
    log_image l(3);
    auto placed = place_replicas(l.img, 6, 1);
    ASSERT_TRUE(placed);
    EXPECT_EQ(count(*placed, false), (std::map<node_id, int>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST(Placement, ExistingLoadIsBalancedOut) {
    log_image l(3);
    (void)l.run(create_topic{make_topic("busy", 1, {{1}, {1}, {1}, {2}})});
    auto placed = place_replicas(l.img, 4, 1);
    ASSERT_TRUE(placed);
    // Broker 1 holds three already and gets none; the totals end within one of each other.
    EXPECT_EQ(count(*placed, false), (std::map<node_id, int>{{2, 2}, {3, 2}}));
}

TEST(Placement, FencedBrokersGetNothing) {
    log_image l(3);
    (void)l.run(fence_broker{2, 1});
    auto placed = place_replicas(l.img, 4, 2);
    ASSERT_TRUE(placed);
    EXPECT_EQ(count(*placed, false), (std::map<node_id, int>{{1, 4}, {3, 4}}));
    EXPECT_FALSE(place_replicas(l.img, 1, 3));
}

TEST(Placement, ReplicasTakeDistinctRacks) {
    image img;
    int64_t at = 0;
    // Racks a, a, b, b: every partition of two replicas must span both racks.
    (void)apply(img, register_broker{make_broker(1, 1, "a")}, at++);
    (void)apply(img, register_broker{make_broker(2, 1, "a")}, at++);
    (void)apply(img, register_broker{make_broker(3, 1, "b")}, at++);
    (void)apply(img, register_broker{make_broker(4, 1, "b")}, at++);
    auto placed = place_replicas(img, 8, 2);
    ASSERT_TRUE(placed);
    for (const auto& r : *placed) {
        EXPECT_NE(img.brokers.at(r[0]).rack, img.brokers.at(r[1]).rack);
    }
    EXPECT_EQ(count(*placed, true), (std::map<node_id, int>{{1, 2}, {2, 2}, {3, 2}, {4, 2}}));
}

TEST(Placement, TooFewBrokers) {
    log_image l(2);
    EXPECT_FALSE(place_replicas(l.img, 1, 3));
    EXPECT_TRUE(place_replicas(l.img, 1, 2));
}

// ---- decommissioning ----

TEST(Placement, NewPartitionsAvoidADecommissionedBroker) {
    log_image l(4);
    (void)l.run(drain_broker{2, true});
    auto placed = place_replicas(l.img, 6, 3);
    ASSERT_TRUE(placed);
    EXPECT_FALSE(count(*placed, false).contains(2));
    EXPECT_FALSE(place_replicas(l.img, 1, 4));  // three brokers are left
}

TEST(Placement, ADrainSwapsTheBrokerForTheLeastLoadedInItsPlace) {
    log_image l(5);
    (void)l.run(create_topic{make_topic("t", 1, {{1, 2, 3}, {2, 3, 4}, {3, 4, 1}, {4, 1, 2}})});
    (void)l.run(drain_broker{1, true});
    std::vector<std::string> stuck;
    auto moves = plan_drain(l.img, 1, 10, &stuck);
    EXPECT_TRUE(stuck.empty());
    ASSERT_EQ(moves.size(), 3u);  // the partitions holding node 1
    // Node 5 holds nothing: it takes each, in node 1's place in the list.
    EXPECT_EQ(moves[0].partition, 0);
    EXPECT_EQ(moves[0].target, (replica_list{5, 2, 3}));
    EXPECT_EQ(moves[1].target, (replica_list{3, 4, 5}));
    // Node 5 with two planned is still below node 3's three replicas.
    EXPECT_EQ(moves[2].target, (replica_list{4, 5, 2}));
    EXPECT_EQ(plan_drain(l.img, 1, 2).size(), 2u);  // at most as many as asked
}

TEST(Placement, ADrainSkipsMovingPartitionsAndNamesThoseWithNowhereToGo) {
    log_image l(3);
    (void)l.run(create_topic{make_topic("t", 1, {{1, 2, 3}})});
    (void)l.run(create_topic{make_topic("u", 2, {{1, 2}})});
    (void)l.run(reassign_partition{make_id(2), 0, {2, 1}});
    (void)l.run(drain_broker{1, true});
    std::vector<std::string> stuck;
    EXPECT_TRUE(plan_drain(l.img, 1, 10, &stuck).empty());
    EXPECT_EQ(stuck, (std::vector<std::string>{"t-0"}));  // u-0 is moving
}

}  // namespace
}  // namespace trib::cluster::core
