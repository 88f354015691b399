// Leader election (Raft §5.2, §5.4.1) with pre-vote and check-quorum (§9.6): who campaigns
// when, who may vote for whom, what must be durable before a vote is sent, and how a healthy
// leader is protected from nodes that lost touch.
#include <set>

#include <gtest/gtest.h>

#include "unit/raft/harness.h"

namespace trib::raft {
namespace {

using test::cluster;
using test::log_of_terms;

const configuration three{{1, 2, 3}};

raft_options no_pre_vote() {
    raft_options o;
    o.pre_vote = false;
    return o;
}

// The answer `from` gave `to` of the given type, among `ms` (a vector or the queue).
template <typename Messages>
const message* answer(const Messages& ms, msg_type t, node_id from, node_id to) {
    for (const message& m : ms) {
        if (m.type == t && m.from == from && m.to == to) return &m;
    }
    return nullptr;
}

TEST(election, follower_campaigns_after_randomized_timeout) {
    std::set<int> timeouts;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        memory_log disk(three);
        raft_options o;
        o.id = 1;
        o.seed = seed;
        raft_node n(o, disk, {});
        int ticks = 0;
        bool campaigned = false;
        while (!campaigned && ticks < 100) {
            n.tick();
            ++ticks;
            if (n.has_ready()) {
                ready rd = n.take_ready();
                campaigned = test::has(rd.messages, msg_type::pre_vote) ||
                             test::has(rd.messages_after_persist, msg_type::pre_vote);
                n.advance(rd);
            }
        }
        ASSERT_TRUE(campaigned) << "seed " << seed;
        EXPECT_GE(ticks, o.election_ticks) << "seed " << seed;
        EXPECT_LT(ticks, 2 * o.election_ticks) << "seed " << seed;
        EXPECT_EQ(n.role(), role::pre_candidate);
        timeouts.insert(ticks);
    }
    // Randomized: identical timeouts everywhere would make split votes recur.
    EXPECT_GE(timeouts.size(), 3u);
}

TEST(election, pre_vote_does_not_increase_any_term) {
    cluster c({1, 2, 3});
    c.node(1).campaign();
    c.process(1);
    ASSERT_EQ(c.node(1).role(), role::pre_candidate);
    EXPECT_EQ(c.node(1).term(), 0);
    // The pre-votes ask about term 1 without anyone moving to it.
    ASSERT_EQ(c.deliver_if([](const message& m) { return m.type == msg_type::pre_vote; }), 2u);
    for (const message& m : c.trace)
        EXPECT_EQ(m.term, 1);
    for (node_id id : {1, 2, 3}) {
        EXPECT_EQ(c.node(id).term(), 0) << "node " << id;
        EXPECT_EQ(c.node(id).voted_for(), no_node) << "node " << id;
        EXPECT_EQ(c.disk(id).state(), hard_state{}) << "node " << id;
    }
    const message* granted = answer(c.queue, msg_type::pre_vote_response, 2, 1);
    ASSERT_NE(granted, nullptr);
    EXPECT_TRUE(granted->granted);
    // Only a successful pre-vote starts the real election, in term 1.
    c.settle();
    EXPECT_EQ(c.node(1).role(), role::leader);
    EXPECT_EQ(c.node(1).term(), 1);
}

TEST(election, isolated_node_with_pre_vote_keeps_its_term) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(3);
    c.tick_all(100);  // ten election timeouts and more
    EXPECT_EQ(c.node(3).term(), 1);
    EXPECT_EQ(c.disk(3).state().term, 1);
    EXPECT_NE(c.node(3).role(), role::candidate);
    EXPECT_EQ(c.node(1).role(), role::leader);
}

TEST(election, candidate_with_majority_becomes_leader_and_appends_leader_start) {
    cluster c({1, 2, 3});
    c.isolate(3);  // two of three is a majority
    ASSERT_TRUE(c.elect(1));
    EXPECT_EQ(c.node(1).term(), 1);
    EXPECT_EQ(c.node(1).leader(), 1);
    EXPECT_EQ(c.node(2).leader(), 1);
    EXPECT_EQ(c.node(2).role(), role::follower);
    for (node_id id : {1, 2}) {
        const auto& log = c.disk(id).all_entries();
        ASSERT_EQ(log.size(), 1u) << "node " << id;
        EXPECT_EQ(log[0].kind, entry_kind::leader_start);
        EXPECT_EQ(log[0].term, 1);
        EXPECT_EQ(log[0].base_offset, 0);
    }
    EXPECT_EQ(c.node(1).commit_offset(), 0);
    EXPECT_TRUE(c.disk(3).all_entries().empty());
}

TEST(election, candidate_without_majority_does_not_win) {
    cluster c({1, 2, 3}, no_pre_vote());
    c.isolate(2);
    c.isolate(3);
    EXPECT_FALSE(c.elect(1));
    EXPECT_EQ(c.node(1).role(), role::candidate);
    EXPECT_EQ(c.node(1).term(), 1);
    EXPECT_TRUE(c.disk(1).all_entries().empty());
}

TEST(election, one_vote_per_term) {
    cluster c({1, 2, 3}, no_pre_vote());
    c.node(1).campaign();
    c.process(1);
    ASSERT_EQ(c.deliver_if([](const message& m) { return m.from == 1 && m.to == 2; }), 1u);
    EXPECT_EQ(c.node(2).voted_for(), 1);
    c.drop_if([](const message&) { return true; });
    // Node 3 asks in the same term 1: node 2 has voted already.
    c.node(3).campaign();
    c.process(3);
    ASSERT_EQ(c.node(3).term(), 1);
    c.deliver_if([](const message& m) { return m.from == 3; });
    const message* r = answer(c.queue, msg_type::vote_response, 2, 3);
    ASSERT_NE(r, nullptr);
    EXPECT_FALSE(r->granted);
    EXPECT_EQ(c.node(2).voted_for(), 1);
    EXPECT_EQ(c.disk(2).state(), (hard_state{1, 1}));
    // And a candidate has voted for itself.
    const message* r1 = answer(c.queue, msg_type::vote_response, 1, 3);
    ASSERT_NE(r1, nullptr);
    EXPECT_FALSE(r1->granted);
    c.settle();
    EXPECT_NE(c.node(3).role(), role::leader);
}

TEST(election, voter_refuses_candidate_with_older_last_term) {
    // Node 3's log is longer, but node 2's ends in a later term: later term wins (§5.4.1).
    cluster c(no_pre_vote());
    c.add(1, three, log_of_terms({1}), {2, no_node});
    c.add(2, three, log_of_terms({1, 2}), {2, no_node});
    c.add(3, three, log_of_terms({1, 1, 1}), {2, no_node});
    c.node(3).campaign();
    c.process(3);
    c.deliver_if([](const message& m) { return m.type == msg_type::vote; });
    const message* from2 = answer(c.queue, msg_type::vote_response, 2, 3);
    const message* from1 = answer(c.queue, msg_type::vote_response, 1, 3);
    ASSERT_NE(from2, nullptr);
    ASSERT_NE(from1, nullptr);
    EXPECT_FALSE(from2->granted);
    EXPECT_TRUE(from1->granted);
    // The refusing voter still adopts the new term, without a vote.
    EXPECT_EQ(c.node(2).term(), 3);
    EXPECT_EQ(c.node(2).voted_for(), no_node);
    c.settle();
    EXPECT_EQ(c.node(3).role(), role::leader);
}

TEST(election, voter_refuses_candidate_with_shorter_log_in_same_term) {
    cluster c(no_pre_vote());
    c.add(1, three, log_of_terms({1}), {1, no_node});
    c.add(2, three, log_of_terms({1, 1}), {1, no_node});
    c.add(3, three, log_of_terms({1}), {1, no_node});
    c.node(3).campaign();
    c.process(3);
    c.deliver_if([](const message& m) { return m.type == msg_type::vote; });
    const message* from2 = answer(c.queue, msg_type::vote_response, 2, 3);
    const message* from1 = answer(c.queue, msg_type::vote_response, 1, 3);
    ASSERT_NE(from2, nullptr);
    ASSERT_NE(from1, nullptr);
    EXPECT_FALSE(from2->granted);
    EXPECT_TRUE(from1->granted);  // equal logs are up to date
    c.settle();
    EXPECT_EQ(c.node(3).role(), role::leader);
}

TEST(election, higher_term_makes_leader_step_down) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.node(1).step({.type = msg_type::append_response, .from = 2, .to = 1, .term = 5});
    EXPECT_EQ(c.node(1).role(), role::follower);
    EXPECT_EQ(c.node(1).term(), 5);
    EXPECT_EQ(c.node(1).voted_for(), no_node);
    EXPECT_EQ(c.node(1).leader(), no_node);
    EXPECT_EQ(c.node(1).propose(test::data_batch("x"), 0).error(),
              make_error_code(errc::not_leader));
    c.process(1);
    EXPECT_EQ(c.disk(1).state(), (hard_state{5, no_node}));
}

TEST(election, higher_term_makes_candidate_step_down) {
    cluster c({1, 2, 3}, no_pre_vote());
    c.node(1).campaign();
    c.process(1);
    ASSERT_EQ(c.node(1).role(), role::candidate);
    // A refusal from a voter that is ahead.
    c.node(1).step({.type = msg_type::vote_response, .from = 3, .to = 1, .term = 4});
    EXPECT_EQ(c.node(1).role(), role::follower);
    EXPECT_EQ(c.node(1).term(), 4);
    // A leader's heartbeat in a later term: follow it.
    c.node(2).campaign();
    c.process(2);
    c.node(2).step({.type = msg_type::heartbeat, .from = 3, .to = 2, .term = 7});
    EXPECT_EQ(c.node(2).role(), role::follower);
    EXPECT_EQ(c.node(2).term(), 7);
    EXPECT_EQ(c.node(2).leader(), 3);
}

TEST(election, vote_is_durable_before_the_response_is_sent) {
    memory_log disk(three);
    raft_options o;
    o.id = 2;
    raft_node n(o, disk, {});
    n.step({.type = msg_type::vote, .from = 1, .to = 2, .term = 1, .last_offset = -1});
    ASSERT_TRUE(n.has_ready());
    ready rd = n.take_ready();
    ASSERT_TRUE(rd.hard_state.has_value());
    EXPECT_EQ(*rd.hard_state, (hard_state{1, 1}));
    EXPECT_FALSE(test::has(rd.messages, msg_type::vote_response));
    const message* r = answer(rd.messages_after_persist, msg_type::vote_response, 2, 1);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->granted);
    EXPECT_EQ(r->term, 1);
}

TEST(election, candidate_persists_its_own_vote) {
    cluster c({1, 2, 3}, no_pre_vote());
    c.node(1).campaign();
    ready rd = c.node(1).take_ready();
    ASSERT_TRUE(rd.hard_state.has_value());
    EXPECT_EQ(*rd.hard_state, (hard_state{1, 1}));
}

TEST(election, split_vote_leads_to_new_election_in_later_term) {
    cluster c({1, 2, 3, 4}, no_pre_vote());
    c.node(1).campaign();
    c.node(3).campaign();
    c.process_all();
    // 1 gets 2's vote, 3 gets 4's: two votes each of four, quorum three.
    c.deliver_if([](const message& m) { return m.from == 1 && m.to == 2; });
    c.deliver_if([](const message& m) { return m.from == 3 && m.to == 4; });
    c.settle();
    EXPECT_EQ(c.leader(), no_node);
    for (node_id id : c.ids())
        EXPECT_EQ(c.node(id).term(), 1);
    for (int i = 0; i < 100 && c.leader() == no_node; ++i)
        c.tick_all();
    node_id l = c.leader();
    ASSERT_NE(l, no_node);
    EXPECT_GE(c.node(l).term(), 2);
    // One leader, and everyone follows it.
    c.tick_all();
    for (node_id id : c.ids()) {
        EXPECT_EQ(c.node(id).leader(), l);
        EXPECT_EQ(c.node(id).term(), c.node(l).term());
    }
}

TEST(election, single_node_cluster_elects_itself) {
    cluster c({1});
    for (int i = 0; i < 20 && c.node(1).role() != role::leader; ++i)
        c.tick(1);
    ASSERT_EQ(c.node(1).role(), role::leader);
    EXPECT_EQ(c.node(1).term(), 1);
    EXPECT_EQ(c.node(1).commit_offset(), 0);  // the leader_start, durable on the only voter
    offset_t x = c.propose(1, "alone");
    EXPECT_EQ(x, 1);
    EXPECT_EQ(c.node(1).commit_offset(), 1);
    EXPECT_EQ(c.at(1).reported_commit, 1);
}

// ---- check-quorum and leases ----

TEST(election, leader_without_majority_steps_down) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    // Hearing from one follower is a majority: it keeps leading.
    c.isolate(3);
    c.tick_all(10 * 10);
    ASSERT_EQ(c.node(1).role(), role::leader);
    // Hearing from none, it steps down within two election timeouts (the first check may
    // still count answers from before the partition), and not before one.
    c.isolate(2);
    c.tick(1, 9);
    EXPECT_EQ(c.node(1).role(), role::leader);
    c.tick(1, 11);
    EXPECT_EQ(c.node(1).role(), role::follower);
    EXPECT_EQ(c.node(1).term(), 1);  // stepping down is no reason for a new term
}

TEST(election, rejoining_node_does_not_depose_healthy_leader) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(3);
    c.tick_all(60);
    ASSERT_EQ(c.node(3).role(), role::pre_candidate);
    c.heal(3);
    size_t before = c.trace.size();
    // It asks at once, before any heartbeat reaches it: both refuse to help.
    c.node(3).campaign();
    c.settle();
    for (size_t i = before; i < c.trace.size(); ++i) {
        const message& m = c.trace[i];
        EXPECT_FALSE(m.type == msg_type::pre_vote_response && m.granted)
            << "node " << m.from << " granted a pre-vote";
    }
    c.tick_all(30);
    EXPECT_EQ(c.leader(), 1);
    for (node_id id : {1, 2, 3}) {
        EXPECT_EQ(c.node(id).term(), 1) << "node " << id;
        EXPECT_EQ(c.node(id).leader(), 1) << "node " << id;
    }
}

TEST(election, follower_under_lease_ignores_vote_without_transfer) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.tick_all(2);
    message vote{
        .type = msg_type::vote, .from = 3, .to = 2, .term = 2, .last_offset = 100, .last_term = 1};
    c.node(2).step(vote);
    EXPECT_EQ(c.node(2).term(), 1);
    EXPECT_EQ(c.node(2).leader(), 1);
    if (c.node(2).has_ready()) {
        ready rd = c.node(2).take_ready();
        EXPECT_FALSE(rd.hard_state.has_value());
        const message* r = answer(rd.messages_after_persist, msg_type::vote_response, 2, 3);
        EXPECT_TRUE(r == nullptr || !r->granted);
        c.node(2).advance(rd);
    }
    // The same request marked as a leadership transfer passes the lease.
    vote.transfer = true;
    c.node(2).step(vote);
    EXPECT_EQ(c.node(2).term(), 2);
    EXPECT_EQ(c.node(2).voted_for(), 3);
}

}  // namespace
}  // namespace trib::raft
