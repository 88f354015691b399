// Snapshots and crashes: a follower behind the leader's log start is sent a snapshot and then
// the entries after it; a restarted node keeps exactly what it synced (term, vote, log), and
// an acknowledged commit survives a minority losing its unsynced writes.
#include <gtest/gtest.h>

#include "unit/raft/harness.h"

namespace trib::raft {
namespace {

using test::cluster;
using test::data_batch;

const configuration three{{1, 2, 3}};

// ---- snapshots ----

TEST(snapshot, lagging_follower_installs_snapshot_then_gets_the_rest) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(3);
    for (int i = 0; i < 5; ++i)
        c.propose(1, "s" + std::to_string(i), 2);
    c.settle();
    raft_node& leader = c.node(1);
    ASSERT_EQ(leader.commit_offset(), leader.log().last_offset());
    ASSERT_EQ(leader.applied_offset(), leader.commit_offset());
    // The application snapshots through the last applied batch and drops that prefix.
    snapshot snap{.last_offset = leader.applied_offset(),
                  .last_term = leader.log().term_at(leader.applied_offset()),
                  .config = leader.config()};
    c.disk(1).compact(snap);
    c.disk(1).sync();
    leader.compacted(snap);
    EXPECT_EQ(leader.log().start_offset(), snap.last_offset + 1);
    offset_t after = c.propose(1, "after");
    c.settle();
    ASSERT_EQ(leader.commit_offset(), after);

    c.heal(3);
    size_t before = c.trace.size();
    c.tick_all(3);
    bool sent = false;
    for (size_t i = before; i < c.trace.size(); ++i) {
        const message& m = c.trace[i];
        if (m.type == msg_type::snapshot && m.to == 3) {
            sent = true;
            ASSERT_TRUE(m.snap.has_value());
            EXPECT_EQ(m.snap->last_offset, snap.last_offset);
            EXPECT_EQ(m.snap->last_term, snap.last_term);
        }
    }
    EXPECT_TRUE(sent);
    bool installed = false;
    for (const ready& rd : c.at(3).readies) {
        installed |= rd.snapshot && rd.snapshot->last_offset == snap.last_offset;
    }
    EXPECT_TRUE(installed);
    EXPECT_EQ(c.disk(3).snapshot().last_offset, snap.last_offset);
    EXPECT_EQ(c.disk(3).snapshot().config, three);
    // Then the entries after the snapshot, identical to the leader's.
    ASSERT_FALSE(c.disk(3).all_entries().empty());
    EXPECT_EQ(c.disk(3).all_entries().front().base_offset, snap.last_offset + 1);
    EXPECT_TRUE(test::same_log(c.disk(3).all_entries(), c.disk(1).all_entries()));
    EXPECT_EQ(c.node(3).commit_offset(), after);
    EXPECT_EQ(c.at(3).reported_commit, after);
    EXPECT_EQ(c.node(3).config(), three);
}

TEST(snapshot, node_restarted_from_a_compacted_log_resumes_after_it) {
    cluster c({1});
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x", 3);
    ASSERT_EQ(c.node(1).applied_offset(), x + 2);
    snapshot snap{.last_offset = x + 2, .last_term = 1, .config = configuration{{1}}};
    c.disk(1).compact(snap);
    c.disk(1).sync();
    c.node(1).compacted(snap);
    c.restart(1);
    EXPECT_EQ(c.node(1).commit_offset(), x + 2);
    EXPECT_EQ(c.node(1).log().start_offset(), x + 3);
    EXPECT_EQ(c.node(1).term(), 1);
    for (int i = 0; i < 30 && c.node(1).role() != role::leader; ++i)
        c.tick(1);
    ASSERT_EQ(c.node(1).role(), role::leader);
    EXPECT_EQ(c.node(1).term(), 2);
    offset_t y = c.propose(1, "y");
    EXPECT_EQ(y, x + 4);  // after the snapshot and the new leader_start
    EXPECT_EQ(c.node(1).commit_offset(), y);
}

// ---- restarts ----

TEST(restart, a_lone_voter_commits_what_it_holds_at_once) {
    // Alone in its configuration, every entry it holds was committed when written: after a
    // restart it serves them before any election (a damaged log may never take another).
    cluster c({1});
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x", 3);
    c.restart(1);
    EXPECT_EQ(c.node(1).role(), role::follower);
    EXPECT_EQ(c.node(1).commit_offset(), x + 2);
    // Not so for a member of a larger group: what it holds may not have reached a majority.
    cluster three_nodes({1, 2, 3});
    ASSERT_TRUE(three_nodes.elect(1));
    three_nodes.isolate(1);
    offset_t lone = three_nodes.propose(1, "unreplicated");
    three_nodes.restart(1);
    EXPECT_LT(three_nodes.node(1).commit_offset(), lone);
}

TEST(restart, node_keeps_synced_term_and_vote) {
    raft_options o;
    o.pre_vote = false;
    cluster c({1, 2, 3}, o);
    c.node(1).campaign();
    c.process(1);
    c.deliver_if([](const message& m) { return m.from == 1 && m.to == 2; });
    ASSERT_EQ(c.node(2).voted_for(), 1);
    c.queue.clear();
    c.restart(2);
    EXPECT_EQ(c.node(2).term(), 1);
    EXPECT_EQ(c.node(2).voted_for(), 1);
    // So it cannot vote twice in term 1, even across the crash.
    c.node(3).campaign();
    c.process(3);
    c.deliver_if([](const message& m) { return m.from == 3 && m.to == 2; });
    ASSERT_FALSE(c.queue.empty());
    bool refused = false;
    for (const message& m : c.queue) {
        refused |= m.type == msg_type::vote_response && m.from == 2 && !m.granted;
    }
    EXPECT_TRUE(refused);
    EXPECT_EQ(c.node(2).voted_for(), 1);
}

TEST(restart, unsynced_vote_is_lost_and_was_never_sent) {
    memory_log disk(three);
    raft_options o;
    o.id = 2;
    auto n = std::make_unique<raft_node>(o, disk, hard_state{});
    n->step({.type = msg_type::vote, .from = 1, .to = 2, .term = 1});
    ready rd = n->take_ready();
    disk.write(rd);
    // Power fails before the sync: the driver has not sent messages_after_persist, where
    // the grant is, so nobody counts a vote the disk forgot.
    EXPECT_FALSE(rd.messages_after_persist.empty());
    EXPECT_FALSE(test::has(rd.messages, msg_type::vote_response));
    disk.crash(0, false);
    n = std::make_unique<raft_node>(o, disk, disk.state());
    EXPECT_EQ(n->term(), 0);
    EXPECT_EQ(n->voted_for(), no_node);
}

TEST(restart, restarted_follower_catches_up) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x");
    c.settle();
    c.restart(2);
    EXPECT_EQ(c.node(2).term(), 1);
    EXPECT_EQ(c.node(2).log().last_offset(), x);
    offset_t y = c.propose(1, "y");
    c.settle();
    c.tick_all();
    EXPECT_EQ(c.node(2).commit_offset(), y);
    EXPECT_TRUE(test::same_log(c.disk(2).all_entries(), c.disk(1).all_entries()));
}

// A follower whose disk was wiped refuses appends at the offsets it acknowledged before; the
// leader must not take that for a stale answer, or it would probe at the old match forever.
// Caught up by a new entry, and by heartbeats alone when nothing new is written.
TEST(restart, a_follower_with_a_wiped_disk_is_sent_the_log_again) {
    for (bool write_after : {true, false}) {
        SCOPED_TRACE(write_after ? "new entry after the wipe" : "heartbeats only");
        cluster c({1, 2, 3});
        ASSERT_TRUE(c.elect(1));
        offset_t last = -1;
        for (int i = 0; i < 5; ++i)
            last = c.propose(1, "before");
        c.settle();
        c.tick_all();
        ASSERT_EQ(c.node(2).commit_offset(), last);
        c.add(2, three);  // a fresh disk: nothing but the bootstrap configuration
        ASSERT_EQ(c.node(2).log().last_offset(), -1);
        if (write_after) last = c.propose(1, "after");
        c.tick_all(5);
        EXPECT_EQ(c.node(2).log().last_offset(), last);
        EXPECT_EQ(c.node(2).commit_offset(), last);
        EXPECT_TRUE(test::same_log(c.disk(2).all_entries(), c.disk(1).all_entries()));
        EXPECT_EQ(c.node(1).followers_lost_log(), 1u);
        EXPECT_EQ(c.node(1).last_follower_lost_log(), 2);
        c.expect_committed_prefixes_agree();
    }
}

// A follower that dropped damaged entries it had acknowledged (log_store's repair) must not
// vote until it holds them again: here entry x is committed on nodes 1 and 2 only, node 2
// loses it, and with node 1 cut off node 3 (which never had x) would win with node 2's vote
// and x would be gone. The rejoining node refuses, stays out of elections itself, and votes
// again once the leader has sent it x.
TEST(restart, a_follower_that_lost_acknowledged_entries_votes_only_once_it_holds_them_again) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "precious");
    c.settle([](const message& m) { return m.to == 3 || m.from == 3; });
    ASSERT_EQ(c.node(1).commit_offset(), x);
    // Node 2 restarts having dropped x (the repair keeps what came before the damage).
    std::vector<entry> kept;
    for (const entry& e : c.disk(2).all_entries()) {
        if (e.last_offset < x) kept.push_back(e);
    }
    term_t term = c.node(2).term();
    c.add(2, three, kept,
          hard_state{.term = term, .voted_for = 1, .lost_through = x, .lost_in_term = term});
    ASSERT_TRUE(c.node(2).rejoining());
    c.isolate(1);
    const size_t since = c.trace.size();
    for (int i = 0; i < 60; ++i)
        c.tick_all();
    EXPECT_EQ(c.leader(), no_node) << "node 3 won an election without the committed entry";
    for (size_t i = since; i < c.trace.size(); ++i) {
        const message& m = c.trace[i];
        if (m.from == 2) {
            EXPECT_NE(m.type, msg_type::pre_vote) << "a rejoining node campaigned";
            EXPECT_NE(m.type, msg_type::vote) << "a rejoining node campaigned";
            if (m.type == msg_type::pre_vote_response || m.type == msg_type::vote_response) {
                EXPECT_FALSE(m.granted) << "a rejoining node granted a vote";
            }
        }
    }
    // Node 1 comes back: it (or whoever wins with the entry) sends x to node 2.
    c.heal(1);
    for (int i = 0; i < 200 && (c.leader() == no_node || c.node(2).rejoining()); ++i)
        c.tick_all();
    ASSERT_FALSE(c.node(2).rejoining());
    EXPECT_GE(c.node(2).log().last_offset(), x);
    EXPECT_EQ(c.disk(2).state().lost_through, -1) << "the cleared mark is persisted";
    // Now node 2 votes again: without node 1, it and node 3 elect a leader holding x.
    c.isolate(1);
    for (int i = 0; i < 200 && (c.leader() == no_node || c.leader() == 1); ++i)
        c.tick_all();
    node_id l = c.leader();
    ASSERT_TRUE(l == 2 || l == 3) << l;
    const auto& log = c.disk(l).all_entries();
    EXPECT_TRUE(
        std::any_of(log.begin(), log.end(), [&](const entry& e) { return e.base_offset == x; }));
    c.expect_committed_prefixes_agree();
}

// The mark also clears when a leader of a later term commits an entry the node holds: every
// entry committed before it (the node's lost ones too) then lies in the node's log before it.
TEST(restart, a_rejoining_follower_votes_again_after_a_later_terms_commit) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.propose(1, "a");
    c.settle();
    term_t term = c.node(2).term();
    // It may have held far more than anyone (a damaged tail of unknown length).
    c.add(2, three, c.disk(2).all_entries(),
          hard_state{.term = term, .voted_for = 1, .lost_through = 1 << 24, .lost_in_term = term});
    c.tick_all(3);
    EXPECT_TRUE(c.node(2).rejoining()) << "the same term's leader proves nothing";
    c.isolate(2);
    ASSERT_TRUE(c.node(1).transfer_leadership(3).has_value());  // node 1's vote elects 3
    c.settle();
    ASSERT_EQ(c.leader(), 3);
    c.heal(2);
    c.propose(3, "b");
    for (int i = 0; i < 20 && c.node(2).rejoining(); ++i)
        c.tick_all();
    EXPECT_FALSE(c.node(2).rejoining());
}

// An entry acknowledged as committed survives any minority crashing with its unsynced writes
// lost (some prefix of them landing, the next perhaps torn). Node 3's disk is slow: it has
// written the entry but not synced it, so it has not acknowledged it either.
TEST(restart, committed_entry_survives_minority_crash) {
    for (uint64_t seed = 0; seed < 6; ++seed) {
        for (bool tear : {false, true}) {
            SCOPED_TRACE(::testing::Message() << "seed " << seed << " tear " << tear);
            cluster c({1, 2, 3});
            ASSERT_TRUE(c.elect(1));
            offset_t x = c.propose(1, "precious");
            std::vector<message> to3;
            for (const message& m : c.queue) {
                if (m.to == 3) to3.push_back(m);
            }
            c.settle([](const message& m) { return m.to == 3; });
            ASSERT_EQ(c.node(1).commit_offset(), x);
            ASSERT_EQ(c.at(1).reported_commit, x);  // the client has its acknowledgement
            const batch_bytes precious = c.disk(1).all_entries().back().batch;
            ASSERT_EQ(c.disk(1).all_entries().back().base_offset, x);
            // Node 3 takes the append into its page cache only.
            for (const message& m : to3)
                c.node(3).step(m);
            ready rd = c.node(3).take_ready();
            ASSERT_FALSE(rd.entries.empty());
            c.disk(3).write(rd);
            c.restart(3, seed, tear);
            const bool lost = c.disk(3).last_offset() < x;
            EXPECT_EQ(lost, seed % 3 != 2);  // both writes (truncate, append) landed or not
            // The old leader goes away too; the survivors must keep the entry.
            c.isolate(1);
            for (int i = 0; i < 200 && (c.leader() == no_node || c.leader() == 1); ++i) {
                c.tick_all();
            }
            node_id l = c.leader();
            ASSERT_TRUE(l == 2 || l == 3) << l;
            if (lost) {
                EXPECT_EQ(l, 2);  // node 3 lacks a committed entry: it cannot win
            }
            c.propose(l, "next");
            c.tick_all(2);
            for (node_id id : {2, 3}) {
                const auto& log = c.disk(id).all_entries();
                auto it = std::find_if(log.begin(), log.end(),
                                       [&](const entry& e) { return e.base_offset == x; });
                ASSERT_NE(it, log.end()) << "node " << id;
                EXPECT_EQ(*it->batch, *precious);
                EXPECT_GE(c.node(id).commit_offset(), x);
            }
            c.heal(1);
            c.tick_all(2);
            c.expect_committed_prefixes_agree();
        }
    }
}

}  // namespace
}  // namespace trib::raft
