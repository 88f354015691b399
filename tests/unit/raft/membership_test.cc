// Leadership transfer (dissertation §3.10) and one-server-at-a-time membership changes
// (§4.1): a change takes effect when appended, waits for a commit in the leader's term and
// for the previous change to commit; new voters catch up and count; removed ones go quiet.
#include <set>

#include <gtest/gtest.h>

#include "unit/raft/harness.h"

namespace trib::raft {
namespace {

using test::cluster;
using test::data_batch;

bool is_election(const message& m) {
    return m.type == msg_type::pre_vote || m.type == msg_type::pre_vote_response ||
           m.type == msg_type::vote || m.type == msg_type::vote_response;
}

std::error_code err(errc e) {
    return make_error_code(e);
}

// ---- leadership transfer ----

TEST(transfer, up_to_date_target_takes_over_in_the_next_term) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.tick_all(3);  // followers are under the leader's lease: only a transfer gets past it
    ASSERT_TRUE(c.node(1).transfer_leadership(2).has_value());
    EXPECT_EQ(c.node(1).transfer_target(), 2);
    size_t before = c.trace.size();
    c.settle();
    EXPECT_EQ(c.node(2).role(), role::leader);
    EXPECT_EQ(c.node(2).term(), 2);
    EXPECT_EQ(c.node(1).role(), role::follower);
    EXPECT_EQ(c.node(1).leader(), 2);
    bool timeout_now = false;
    bool transfer_vote = false;
    for (size_t i = before; i < c.trace.size(); ++i) {
        const message& m = c.trace[i];
        timeout_now |= m.type == msg_type::timeout_now && m.from == 1 && m.to == 2;
        transfer_vote |= m.type == msg_type::vote && m.from == 2 && m.transfer;
        EXPECT_NE(m.type, msg_type::pre_vote);  // no pre-vote: the leader asked for it
    }
    EXPECT_TRUE(timeout_now);
    EXPECT_TRUE(transfer_vote);
}

TEST(transfer, lagging_target_catches_up_first) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(2);
    offset_t x = c.propose(1, "x");
    offset_t y = c.propose(1, "y");
    c.settle();
    ASSERT_EQ(c.node(1).commit_offset(), y);
    c.heal(2);
    ASSERT_TRUE(c.node(1).transfer_leadership(2).has_value());
    c.settle();
    c.tick_all();
    ASSERT_EQ(c.leader(), 2);
    // It could only win holding everything committed, and it does.
    const auto& log = c.disk(2).all_entries();
    ASSERT_GE(log.size(), 4u);
    EXPECT_EQ(log[1].base_offset, x);
    EXPECT_EQ(log[2].base_offset, y);
    c.expect_committed_prefixes_agree();
}

TEST(transfer, proposals_are_refused_during_a_transfer) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(2);  // the transfer cannot finish
    ASSERT_TRUE(c.node(1).transfer_leadership(2).has_value());
    auto r = c.node(1).propose(data_batch("x"), 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), err(errc::leadership_transferring));
}

TEST(transfer, target_must_be_a_voter) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    auto r = c.node(1).transfer_leadership(7);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), err(errc::unknown_node));
    EXPECT_EQ(c.node(1).transfer_target(), no_node);
    EXPECT_TRUE(c.node(1).propose(data_batch("x"), 0).has_value());
    // Only the leader transfers.
    auto f = c.node(2).transfer_leadership(3);
    ASSERT_FALSE(f.has_value());
    EXPECT_EQ(f.error(), err(errc::not_leader));
}

TEST(transfer, unfinished_transfer_is_abandoned_after_an_election_timeout) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(2);
    ASSERT_TRUE(c.node(1).transfer_leadership(2).has_value());
    c.tick_all(9);
    EXPECT_EQ(c.node(1).transfer_target(), 2);
    EXPECT_FALSE(c.node(1).propose(data_batch("x"), 0).has_value());
    c.tick_all(1);
    EXPECT_EQ(c.node(1).transfer_target(), no_node);
    EXPECT_EQ(c.node(1).role(), role::leader);
    EXPECT_TRUE(c.node(1).propose(data_batch("x"), 0).has_value());
}

// ---- membership ----

TEST(membership, change_waits_for_a_commit_in_the_leaders_term) {
    cluster c({1, 2, 3});
    c.node(1).campaign();
    c.process(1);
    while (c.deliver_if(is_election) > 0) {
    }
    ASSERT_EQ(c.node(1).role(), role::leader);
    // Its leader_start is not committed yet: no change may start (the single-server
    // change safety argument needs a commit in the current term).
    auto early = c.node(1).add_voter(4, 0);
    ASSERT_FALSE(early.has_value());
    EXPECT_EQ(early.error(), err(errc::no_commit_in_term));
    c.settle();
    ASSERT_EQ(c.node(1).commit_offset(), 0);
    EXPECT_TRUE(c.node(1).add_voter(4, 0).has_value());
}

TEST(membership, one_change_at_a_time) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    EXPECT_EQ(c.node(1).add_voter(2, 0).error(), err(errc::invalid_config_change));
    EXPECT_EQ(c.node(1).remove_voter(9, 0).error(), err(errc::invalid_config_change));
    auto add = c.node(1).add_voter(4, 0);
    ASSERT_TRUE(add.has_value());
    EXPECT_EQ(c.node(1).remove_voter(3, 0).error(), err(errc::config_change_pending));
    EXPECT_EQ(c.node(1).add_voter(5, 0).error(), err(errc::config_change_pending));
    // Node 4 does not exist yet, so the change commits only when 1, 2 and 3 all have it.
    c.settle();
    ASSERT_GE(c.node(1).commit_offset(), *add);
    EXPECT_TRUE(c.node(1).remove_voter(4, 0).has_value());
}

TEST(membership, config_takes_effect_when_appended) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(3);
    auto add = c.node(1).add_voter(4, 0);
    ASSERT_TRUE(add.has_value());
    EXPECT_EQ(c.node(1).config(), (configuration{{1, 2, 3, 4}}));
    c.settle();
    // A follower uses it as soon as it holds the entry.
    EXPECT_EQ(c.node(2).config(), (configuration{{1, 2, 3, 4}}));
    // So the new quorum (3 of 4) applies to the change itself: 1 and 2 are not enough,
    // though they were a majority of the old configuration.
    EXPECT_LT(c.node(1).commit_offset(), *add);
    EXPECT_LT(c.node(2).commit_offset(), *add);
    c.heal(3);
    c.tick_all();
    EXPECT_GE(c.node(1).commit_offset(), *add);
}

TEST(membership, new_node_catches_up_and_counts_toward_quorum) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    for (int i = 0; i < 3; ++i)
        c.propose(1, "before" + std::to_string(i));
    c.settle();
    c.add(4, configuration{});  // knows nothing: it learns the group from the leader
    c.tick(4, 50);
    EXPECT_EQ(c.node(4).role(), role::follower);  // not a voter: never campaigns
    EXPECT_TRUE(c.queue.empty());
    auto add = c.node(1).add_voter(4, c.now_ms);
    ASSERT_TRUE(add.has_value());
    c.settle();
    c.tick_all();
    EXPECT_TRUE(test::same_log(c.disk(4).all_entries(), c.disk(1).all_entries()));
    EXPECT_EQ(c.node(4).config(), (configuration{{1, 2, 3, 4}}));
    EXPECT_EQ(c.node(4).commit_offset(), c.node(1).commit_offset());
    EXPECT_EQ(c.node(4).leader(), 1);
    // With 3 and 4 cut off, 1 and 2 are two of four: not a quorum.
    c.isolate(3);
    c.isolate(4);
    offset_t x = c.propose(1, "x");
    c.tick_all(2);
    EXPECT_LT(c.node(1).commit_offset(), x);
    // Node 4's copy makes three.
    c.heal(4);
    c.tick_all(2);
    EXPECT_EQ(c.node(1).commit_offset(), x);
    EXPECT_EQ(c.node(4).commit_offset(), x);
}

TEST(membership, removed_leader_steps_down_once_the_change_commits) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    auto rm = c.node(1).remove_voter(1, 0);
    ASSERT_TRUE(rm.has_value());
    EXPECT_EQ(c.node(1).config(), (configuration{{2, 3}}));
    c.process(1);
    EXPECT_EQ(c.node(1).role(), role::leader);  // still leading its own removal
    c.settle();
    EXPECT_GE(c.node(2).log().last_offset(), *rm);
    EXPECT_GE(c.node(1).commit_offset(), *rm);
    EXPECT_EQ(c.node(1).role(), role::follower);
    // The others elect a leader among themselves; node 1 stays out.
    size_t before = c.trace.size();
    for (int i = 0; i < 100 && (c.leader() == no_node || c.leader() == 1); ++i)
        c.tick_all();
    node_id l = c.leader();
    ASSERT_TRUE(l == 2 || l == 3) << l;
    c.tick_all(50);
    for (size_t i = before; i < c.trace.size(); ++i) {
        EXPECT_FALSE(c.trace[i].from == 1 && is_election(c.trace[i]))
            << "removed node 1 sent " << to_string(c.trace[i].type);
    }
    EXPECT_EQ(c.node(1).term(), 1);
    EXPECT_EQ(c.leader(), l);
    EXPECT_TRUE(c.node(l).propose(data_batch("after"), 0).has_value());
}

TEST(membership, node_whose_removal_is_committed_does_not_campaign) {
    // The removal is below the snapshot: committed for certain.
    cluster c;
    c.add(3, configuration{{1, 2}}, {test::data_entry(0, 1)}, {1, no_node});
    c.tick(3, 100);
    c.node(3).campaign();
    c.process(3);
    EXPECT_TRUE(c.queue.empty());
    EXPECT_EQ(c.node(3).role(), role::follower);
    EXPECT_EQ(c.node(3).term(), 1);
}

TEST(membership, node_holding_its_uncommitted_removal_may_only_ask_the_new_voters) {
    // It may hold the removal's only copy (a leader that removed itself and lost touch), so it
    // may campaign — but it counts votes in the new configuration and, with pre-vote, moves
    // no one's term unless those voters would elect it.
    const configuration three{{1, 2, 3}};
    cluster c;
    c.add(3, three, {test::data_entry(0, 1), test::config_entry(1, 1, configuration{{1, 2}})},
          {1, no_node});
    ASSERT_EQ(c.node(3).config(), (configuration{{1, 2}}));
    c.node(3).campaign();
    c.process(3);
    EXPECT_EQ(c.node(3).role(), role::pre_candidate);
    EXPECT_EQ(c.node(3).term(), 1);
    std::set<node_id> asked;
    for (const message& m : c.queue) {
        EXPECT_EQ(m.type, msg_type::pre_vote);
        asked.insert(m.to);
    }
    EXPECT_EQ(asked, (std::set<node_id>{1, 2}));
}

TEST(membership, removed_follower_does_not_disrupt_the_group) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    auto rm = c.node(1).remove_voter(3, 0);
    ASSERT_TRUE(rm.has_value());
    c.settle();
    c.tick_all(50);
    EXPECT_EQ(c.node(1).config(), (configuration{{1, 2}}));
    EXPECT_EQ(c.leader(), 1);
    EXPECT_EQ(c.node(1).term(), 1);
    EXPECT_EQ(c.node(2).term(), 1);
    // The group of two commits without node 3.
    c.isolate(3);
    offset_t x = c.propose(1, "x");
    c.tick_all();
    EXPECT_EQ(c.node(1).commit_offset(), x);
}

}  // namespace
}  // namespace trib::raft

namespace trib::raft {
namespace {

// ---- learners (the controller's brokers) ----

// Voters 1-3 and a learner 4 that knows the voters from its bootstrap configuration.
test::cluster with_learner() {
    test::cluster c({1, 2, 3});
    c.add(4, configuration{{1, 2, 3}});
    for (node_id id : c.ids()) {
        c.node(id).set_learners({4});
    }
    return c;
}

TEST(learners, receive_the_log_and_the_commit_offset) {
    auto c = with_learner();
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x");
    c.settle();
    c.tick_all(2);  // a heartbeat carries the commit offset
    EXPECT_EQ(c.node(4).commit_offset(), x);
    EXPECT_EQ(c.disk(4).last_offset(), x);
    EXPECT_EQ(c.node(4).leader(), 1);
    c.expect_committed_prefixes_agree();
}

TEST(learners, do_not_count_toward_commit) {
    auto c = with_learner();
    ASSERT_TRUE(c.elect(1));
    c.isolate(2);
    c.isolate(3);
    offset_t x = c.propose(1, "x");
    c.settle();
    EXPECT_LT(c.node(1).commit_offset(), x);  // the leader and the learner are no majority
    EXPECT_EQ(c.disk(4).last_offset(), x);
}

TEST(learners, never_campaign) {
    auto c = with_learner();
    ASSERT_TRUE(c.elect(1));
    c.isolate(1);
    c.isolate(2);
    c.isolate(3);
    for (int i = 0; i < 100; ++i) {
        c.node(4).tick();
        c.process(4);
    }
    EXPECT_EQ(c.node(4).role(), role::follower);
    EXPECT_EQ(c.node(4).term(), c.node(1).term());
}

TEST(learners, a_new_leader_replicates_to_them) {
    auto c = with_learner();
    ASSERT_TRUE(c.elect(1));
    c.isolate(1);
    c.tick_all(40);  // 2 or 3 takes over
    node_id leader = c.leader();
    ASSERT_TRUE(leader == 2 || leader == 3);
    offset_t y = c.propose(leader, "y");
    c.settle();
    c.tick_all(2);
    EXPECT_EQ(c.node(4).commit_offset(), y);
    EXPECT_EQ(c.node(4).leader(), leader);
}

TEST(learners, removed_learners_are_no_longer_sent_to) {
    auto c = with_learner();
    ASSERT_TRUE(c.elect(1));
    c.node(1).set_learners({});
    offset_t x = c.propose(1, "x");
    c.settle();
    c.tick_all(2);
    EXPECT_LT(c.disk(4).last_offset(), x);
    EXPECT_TRUE(c.node(1).learners().empty());
}

TEST(learners, catch_up_from_a_snapshot) {
    auto c = with_learner();
    ASSERT_TRUE(c.elect(1));
    c.isolate(4);
    offset_t x = c.propose(1, "x");
    c.settle();
    c.tick_all(2);
    ASSERT_EQ(c.node(1).commit_offset(), x);
    // The leader compacts everything: the learner, behind it, must be sent the snapshot.
    raft::snapshot snap{.last_offset = x, .last_term = c.node(1).term(), .config = {{1, 2, 3}}};
    c.disk(1).compact(snap);
    c.disk(1).sync();
    c.node(1).compacted(snap);
    c.heal(4);
    c.tick_all(5);
    EXPECT_EQ(c.disk(4).snapshot().last_offset, x);
    EXPECT_EQ(c.node(4).commit_offset(), x);
}

}  // namespace
}  // namespace trib::raft
