// The controller state machine: what each command does to the image, and that a refused
// command changes nothing.
#include "cluster/core/metadata.h"

#include <gtest/gtest.h>

#include "test_image.h"

namespace trib::cluster::core {
namespace {

using testing::log_image;
using testing::make_broker;
using testing::make_id;
using testing::make_topic;

TEST(ControllerImage, ClusterIdIsSetOnce) {
    image img;
    EXPECT_EQ(apply(img, init_cluster{"first"}, 0).result, outcome::applied);
    EXPECT_EQ(apply(img, init_cluster{"second"}, 1).result, outcome::ignored);
    EXPECT_EQ(img.cluster_id, "first");
    EXPECT_EQ(img.applied_offset, 1);
}

TEST(ControllerImage, AnEmptyClusterIdIsIgnored) {
    image img;
    EXPECT_EQ(apply(img, init_cluster{""}, 0).result, outcome::ignored);
    EXPECT_TRUE(img.cluster_id.empty());
}

TEST(ControllerImage, ApplyingOutOfOrderStopsTheProcess) {
    image img;
    (void)apply(img, init_cluster{"a"}, 5);
    EXPECT_DEATH((void)apply(img, init_cluster{"b"}, 5), "applied after");
}

TEST(ControllerImage, ARestartReplacesTheRegistrationAndUnfences) {
    log_image l;
    EXPECT_EQ(l.run(fence_broker{2, 1}).result, outcome::applied);
    EXPECT_FALSE(l.img.live(2));
    broker restarted = make_broker(2, 7);
    restarted.kafka.port = 19094;
    restarted.fenced = true;  // ignored: registering makes it live
    EXPECT_EQ(l.run(register_broker{restarted}).result, outcome::applied);
    EXPECT_TRUE(l.img.live(2));
    EXPECT_EQ(l.img.brokers.at(2).incarnation, 7u);
    EXPECT_EQ(l.img.brokers.at(2).kafka.port, 19094);
}

TEST(ControllerImage, FencingAStaleIncarnationIsIgnored) {
    log_image l;
    (void)l.run(register_broker{make_broker(2, 9)});
    // Decided against incarnation 1 before the restart committed.
    EXPECT_EQ(l.run(fence_broker{2, 1}).result, outcome::ignored);
    EXPECT_TRUE(l.img.live(2));
    EXPECT_EQ(l.run(fence_broker{2, 9}).result, outcome::applied);
    EXPECT_EQ(l.run(fence_broker{2, 9}).result, outcome::ignored);
    EXPECT_EQ(l.run(unfence_broker{2, 9}).result, outcome::applied);
    EXPECT_TRUE(l.img.live(2));
    EXPECT_EQ(l.run(fence_broker{8, 1}).result, outcome::unknown_broker);
}

TEST(ControllerImage, TopicsAreCreatedOnceByNameAndById) {
    log_image l;
    EXPECT_EQ(l.run(create_topic{make_topic("a", 1, {{1, 2}, {2, 3}})}).result, outcome::applied);
    EXPECT_EQ(l.run(create_topic{make_topic("a", 2, {{1}})}).result, outcome::topic_exists);
    EXPECT_EQ(l.run(create_topic{make_topic("b", 1, {{1}})}).result, outcome::topic_exists);
    ASSERT_NE(l.img.find_topic("a"), nullptr);
    EXPECT_EQ(l.img.find_topic(make_id(1))->name, "a");
    EXPECT_EQ(l.img.topics.size(), 1u);
}

TEST(ControllerImage, EveryPartitionGetsItsOwnRaftGroup) {
    log_image l;
    topic claimed = make_topic("a", 1, {{1}, {2}});
    claimed.groups = {0, 0};  // a command's numbering is ignored: apply decides
    (void)l.run(create_topic{claimed});
    (void)l.run(create_topic{make_topic("b", 2, {{3}})});
    (void)l.run(create_partitions{make_id(1), {{3}}});
    EXPECT_EQ(l.img.find_topic("a")->groups, (std::vector<uint64_t>{1, 2, 4}));
    EXPECT_EQ(l.img.find_topic("b")->groups, (std::vector<uint64_t>{3}));
    (void)l.run(delete_topic{make_id(2)});
    (void)l.run(create_topic{make_topic("b", 3, {{3}})});
    EXPECT_EQ(l.img.find_topic("b")->groups, (std::vector<uint64_t>{5}));  // never reused
    EXPECT_EQ(l.img.next_group_id, 6u);
}

TEST(ControllerImage, BadAssignmentsAreRefused) {
    log_image l;
    EXPECT_EQ(l.run(create_topic{make_topic("none", 1, {})}).result, outcome::invalid_assignment);
    EXPECT_EQ(l.run(create_topic{make_topic("empty", 1, {{}})}).result,
              outcome::invalid_assignment);
    EXPECT_EQ(l.run(create_topic{make_topic("twice", 1, {{1, 1}})}).result,
              outcome::invalid_assignment);
    EXPECT_EQ(l.run(create_topic{make_topic("unknown", 1, {{1, 9}})}).result,
              outcome::invalid_assignment);
    EXPECT_EQ(l.run(create_topic{make_topic("uneven", 1, {{1, 2}, {3}})}).result,
              outcome::invalid_assignment);
    EXPECT_TRUE(l.img.topics.empty());
}

TEST(ControllerImage, PartitionsAreAddedAndConfigsReplaced) {
    log_image l;
    (void)l.run(create_topic{make_topic("a", 1, {{1}})});
    EXPECT_EQ(l.run(create_partitions{make_id(1), {{2}, {3}}}).result, outcome::applied);
    EXPECT_EQ(l.img.find_topic("a")->partitions, (std::vector<replica_list>{{1}, {2}, {3}}));
    EXPECT_EQ(l.run(create_partitions{make_id(1), {{2, 3}}}).result, outcome::invalid_assignment);
    EXPECT_EQ(l.run(create_partitions{make_id(9), {{2}}}).result, outcome::unknown_topic);
    EXPECT_EQ(l.run(set_topic_configs{make_id(1), {{"retention.ms", "5"}}}).result,
              outcome::applied);
    EXPECT_EQ(l.run(set_topic_configs{make_id(1), {{"cleanup.policy", "compact"}}}).result,
              outcome::applied);
    EXPECT_EQ(l.img.find_topic("a")->configs,
              (std::map<std::string, std::string>{{"cleanup.policy", "compact"}}));
    EXPECT_EQ(l.run(set_topic_configs{make_id(9), {}}).result, outcome::unknown_topic);
}

TEST(ControllerImage, DeletingByIdSparesARecreatedTopic) {
    log_image l;
    (void)l.run(create_topic{make_topic("a", 1, {{1}})});
    EXPECT_EQ(l.run(delete_topic{make_id(1)}).result, outcome::applied);
    (void)l.run(create_topic{make_topic("a", 2, {{2}})});
    // A retried delete of the old topic must not remove its successor.
    EXPECT_EQ(l.run(delete_topic{make_id(1)}).result, outcome::unknown_topic);
    EXPECT_EQ(l.img.find_topic("a")->id, make_id(2));
}

TEST(ControllerImage, ProducerIdBlocksNeverOverlap) {
    log_image l;
    auto a = l.run(allocate_producer_ids{1, 1000});
    auto b = l.run(allocate_producer_ids{2, 1000});
    EXPECT_EQ(a.first_producer_id, 0);
    EXPECT_EQ(b.first_producer_id, 1000);
    EXPECT_EQ(l.run(allocate_producer_ids{2, 0}).result, outcome::ignored);
    EXPECT_EQ(l.img.next_producer_id, 2000);
}

// ---- reassignment ----

TEST(ControllerImage, AMoveKeepsTheReplicasUntilItFinishes) {
    log_image l(4);
    (void)l.run(create_topic{make_topic("t", 1, {{1, 2, 3}, {2, 3, 1}})});
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {4, 2, 3}}).result, outcome::applied);
    const topic& t = l.img.topics.at("t");
    EXPECT_EQ(t.partitions[0], (replica_list{1, 2, 3}));
    EXPECT_EQ(t.moving.at(0), (replica_list{4, 2, 3}));
    EXPECT_EQ(all_replicas(t, 0), (replica_list{4, 2, 3, 1}));  // the target's first
    EXPECT_EQ(all_replicas(t, 1), (replica_list{2, 3, 1}));
    // A report for another target is stale.
    EXPECT_EQ(l.run(finish_reassignment{make_id(1), 0, {4, 2, 1}}).result, outcome::ignored);
    EXPECT_EQ(l.run(finish_reassignment{make_id(1), 0, {4, 2, 3}}).result, outcome::applied);
    EXPECT_EQ(t.partitions[0], (replica_list{4, 2, 3}));
    EXPECT_TRUE(t.moving.empty());
    EXPECT_EQ(l.run(finish_reassignment{make_id(1), 0, {4, 2, 3}}).result, outcome::ignored);
}

TEST(ControllerImage, ACancelSendsTheMoveBackToWhereItWas) {
    log_image l(4);
    (void)l.run(create_topic{make_topic("t", 1, {{1, 2, 3}})});
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {}}).result, outcome::no_reassignment);
    (void)l.run(reassign_partition{make_id(1), 0, {4, 2, 3}});
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {}}).result, outcome::applied);
    const topic& t = l.img.topics.at("t");
    EXPECT_EQ(t.moving.at(0), (replica_list{1, 2, 3}));  // still moving: back, undoing node 4
    EXPECT_EQ(l.run(finish_reassignment{make_id(1), 0, {1, 2, 3}}).result, outcome::applied);
    EXPECT_TRUE(t.moving.empty());
}

TEST(ControllerImage, AMoveIsCheckedAndANewTargetReplacesTheOld) {
    log_image l(4);
    (void)l.run(create_topic{make_topic("t", 1, {{1, 2, 3}})});
    EXPECT_EQ(l.run(reassign_partition{make_id(2), 0, {1}}).result, outcome::unknown_topic);
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 1, {1}}).result, outcome::unknown_partition);
    EXPECT_EQ(l.run(reassign_partition{make_id(1), -1, {1}}).result, outcome::unknown_partition);
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {1, 1}}).result, outcome::invalid_assignment);
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {1, 9}}).result, outcome::invalid_assignment);
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {1, 2, 3}}).result, outcome::ignored);
    EXPECT_TRUE(l.img.topics.at("t").moving.empty());
    // The replication factor may change.
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {2, 4}}).result, outcome::applied);
    EXPECT_EQ(l.run(reassign_partition{make_id(1), 0, {3, 4, 1, 2}}).result, outcome::applied);
    EXPECT_EQ(l.img.topics.at("t").moving.at(0), (replica_list{3, 4, 1, 2}));
}

TEST(ControllerImage, ADecommissionIsSetAndClearedForKnownBrokersOnly) {
    log_image l(3);
    EXPECT_EQ(l.run(drain_broker{2, true}).result, outcome::applied);
    EXPECT_EQ(l.run(drain_broker{2, true}).result, outcome::ignored);
    EXPECT_EQ(l.run(drain_broker{9, true}).result, outcome::unknown_broker);
    EXPECT_EQ(l.img.draining, (std::set<node_id>{2}));
    EXPECT_EQ(l.run(drain_broker{2, false}).result, outcome::applied);
    EXPECT_TRUE(l.img.draining.empty());
}

}  // namespace
}  // namespace trib::cluster::core
