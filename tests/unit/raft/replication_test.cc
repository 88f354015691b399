// Log replication (Raft §5.3, §5.4.2): proposals go through the leader, which stamps offsets
// and its term; entries commit once a majority holds them durably, only through an entry of
// the leader's term; followers repair divergent logs; flow control bounds what is in flight.
#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "unit/raft/harness.h"

namespace trib::raft {
namespace {

using test::cluster;
using test::data_batch;
using test::log_of_terms;

const configuration three{{1, 2, 3}};
const configuration five{{1, 2, 3, 4, 5}};

const message* find(const std::vector<message>& ms, msg_type t, node_id from, node_id to) {
    for (const message& m : ms) {
        if (m.type == t && m.from == from && m.to == to) return &m;
    }
    return nullptr;
}

bool is_append_to(const message& m, node_id to) {
    return m.type == msg_type::append && m.to == to && !m.entries.empty();
}

TEST(replication, proposal_on_non_leader_is_refused) {
    cluster c({1, 2, 3}, [] {
        raft_options o;
        o.pre_vote = false;
        return o;
    }());
    auto fresh = c.node(1).propose(data_batch("x"), 0);
    ASSERT_FALSE(fresh.has_value());
    EXPECT_EQ(fresh.error(), make_error_code(errc::not_leader));
    c.node(1).campaign();  // a candidate is not a leader either
    ASSERT_EQ(c.node(1).role(), role::candidate);
    EXPECT_EQ(c.node(1).propose(data_batch("x"), 0).error(), make_error_code(errc::not_leader));
    c.settle();
    ASSERT_EQ(c.node(1).role(), role::leader);
    EXPECT_EQ(c.node(2).propose(data_batch("x"), 0).error(), make_error_code(errc::not_leader));
}

TEST(replication, leader_stamps_contiguous_offsets_and_its_term) {
    cluster c;
    for (node_id id : {1, 2, 3})
        c.add(id, three, {}, {4, no_node});
    ASSERT_TRUE(c.elect(1));
    ASSERT_EQ(c.node(1).term(), 5);
    offset_t start = c.node(1).log().last_offset() + 1;  // after the leader_start
    EXPECT_EQ(start, 1);
    offset_t a = c.propose(1, "a", 1);
    offset_t b = c.propose(1, "b", 3);
    offset_t d = c.propose(1, "d", 2);
    EXPECT_EQ(a, start);
    EXPECT_EQ(b, start + 1);
    EXPECT_EQ(d, start + 4);
    c.settle();
    c.tick_all();
    for (node_id id : {1, 2, 3}) {
        const auto& log = c.disk(id).all_entries();
        ASSERT_EQ(log.size(), 4u) << "node " << id;
        EXPECT_EQ(test::shape(log)[3], std::make_tuple(d, d + 1, term_t{5}));
        offset_t expect_base = 0;
        for (const entry& e : log) {
            // The bytes themselves carry it: a follower or consumer reads it from the batch.
            auto h = model::verify_batch(e.bytes());
            ASSERT_TRUE(h.has_value());
            EXPECT_EQ(h->base_offset, expect_base);
            EXPECT_EQ(h->partition_leader_epoch, 5);
            EXPECT_EQ(e.term, 5);
            expect_base = h->last_offset() + 1;
        }
        EXPECT_EQ(c.node(id).commit_offset(), d + 1);
    }
    EXPECT_TRUE(test::same_log(c.disk(1).all_entries(), c.disk(2).all_entries()));
}

TEST(replication, malformed_proposal_is_refused) {
    cluster c({1});
    ASSERT_TRUE(c.elect(1));
    auto r = c.node(1).propose({1, 2, 3}, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), make_error_code(errc::invalid_batch));
    // A proposal may not forge Raft's own control batches.
    auto forged = c.node(1).propose(make_config_batch(configuration{{1, 9}}, 0), 0);
    EXPECT_FALSE(forged.has_value());
    EXPECT_EQ(c.node(1).config(), configuration{{1}});
    EXPECT_EQ(c.node(1).log().last_offset(), 0);
}

TEST(replication, leader_counts_itself_only_once_durable) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    auto x = c.node(1).propose(data_batch("x"), 1);
    ASSERT_TRUE(x.has_value());
    ready rd = c.node(1).take_ready();
    ASSERT_EQ(rd.entries.size(), 1u);
    EXPECT_EQ(rd.entries[0].base_offset, *x);
    // The leader's append may leave before its own write: it is in `messages`.
    const message* to2 = nullptr;
    for (const message& m : rd.messages) {
        if (is_append_to(m, 2)) to2 = &m;
    }
    ASSERT_NE(to2, nullptr);
    c.queue.push_back(*to2);  // node 3 hears nothing
    ASSERT_EQ(c.deliver_if([](const message&) { return true; }), 1u);
    // The follower acknowledges only once its copy is durable.
    const ready& r2 = c.at(2).readies.back();
    EXPECT_FALSE(test::has(r2.messages, msg_type::append_response));
    const message* ack = find(r2.messages_after_persist, msg_type::append_response, 2, 1);
    ASSERT_NE(ack, nullptr);
    EXPECT_TRUE(ack->granted);
    EXPECT_EQ(ack->match_offset, *x);
    // Two copies would be a majority of three, but the leader's own is not durable yet.
    c.node(1).step(*ack);
    c.queue.clear();
    EXPECT_LT(c.node(1).commit_offset(), *x);
    c.disk(1).write(rd);
    c.disk(1).sync();
    c.node(1).advance(rd);
    EXPECT_EQ(c.node(1).commit_offset(), *x);
    c.settle();
    EXPECT_EQ(c.at(1).reported_commit, *x);
}

TEST(replication, commit_reaches_followers_in_appends) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x");
    c.settle();
    for (node_id id : {1, 2, 3}) {
        EXPECT_EQ(c.node(id).commit_offset(), x) << "node " << id;
        EXPECT_EQ(c.at(id).reported_commit, x) << "node " << id;  // handed out to apply
        EXPECT_EQ(c.node(id).applied_offset(), x) << "node " << id;
    }
}

TEST(replication, commit_reaches_followers_in_heartbeats) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x");
    c.deliver_if([](const message& m) { return m.type == msg_type::append; });
    c.deliver_if([](const message& m) { return m.to == 1; });
    ASSERT_EQ(c.node(1).commit_offset(), x);
    c.drop_if([](const message&) { return true; });  // the appends that carried it are lost
    EXPECT_LT(c.node(2).commit_offset(), x);
    size_t before = c.trace.size();
    c.tick(1);  // heartbeat_ticks = 1
    c.settle();
    bool heartbeat_carried_it = false;
    for (size_t i = before; i < c.trace.size(); ++i) {
        const message& m = c.trace[i];
        heartbeat_carried_it |= m.type == msg_type::heartbeat && m.commit_offset == x;
    }
    EXPECT_TRUE(heartbeat_carried_it);
    EXPECT_EQ(c.node(2).commit_offset(), x);
    EXPECT_EQ(c.node(3).commit_offset(), x);
}

TEST(replication, follower_rejects_mismatched_append_and_leader_backs_up) {
    cluster c;
    c.add(1, three, log_of_terms({1, 1, 1, 1, 1}), {1, no_node});
    c.add(2, three, log_of_terms({1, 1}), {1, no_node});
    c.add(3, three, log_of_terms({1, 1, 1, 1, 1}), {1, no_node});
    ASSERT_TRUE(c.elect(1));
    c.tick_all();
    // The first append followed offset 4, which node 2 lacks: it refused.
    const message* refusal = find(c.trace, msg_type::append_response, 2, 1);
    ASSERT_NE(refusal, nullptr);
    EXPECT_FALSE(refusal->granted);
    EXPECT_TRUE(test::same_log(c.disk(2).all_entries(), c.disk(1).all_entries()));
    for (node_id id : {1, 2, 3})
        EXPECT_EQ(c.node(id).commit_offset(), 5) << "node " << id;
}

TEST(replication, divergent_uncommitted_suffix_is_replaced) {
    // Node 2 led term 2 and wrote 1..3 that nobody else took; node 1 then led term 3.
    cluster c;
    c.add(1, three, log_of_terms({1, 3}), {3, no_node});
    c.add(2, three, log_of_terms({1, 2, 2, 2}), {3, no_node});
    c.add(3, three, log_of_terms({1, 3}), {3, no_node});
    ASSERT_TRUE(c.elect(1));
    ASSERT_EQ(c.node(1).term(), 4);
    c.tick_all();
    using pos = std::tuple<offset_t, offset_t, term_t>;
    EXPECT_EQ(test::shape(c.disk(2).all_entries()),
              (std::vector<pos>{{0, 0, 1}, {1, 1, 3}, {2, 2, 4}}));
    EXPECT_EQ(c.node(2).log().last_offset(), 2);
    EXPECT_TRUE(test::same_log(c.disk(2).all_entries(), c.disk(1).all_entries()));
    EXPECT_EQ(c.node(2).commit_offset(), 2);
}

// Figure 8 of the Raft paper: S1 leads term 4 and copies its term-2 entry at offset 1 to a
// majority, but not yet its own term-4 entry. Counting replicas alone would commit offset 1.
class figure8 : public ::testing::Test {
  protected:
    void SetUp() override {
        raft_options o;
        o.pre_vote = false;
        o.check_quorum = false;
        o.max_append_bytes = 1;  // one entry per append, so they can be lost one by one
        c = cluster(o);
        c.add(1, five, log_of_terms({1, 2}), {3, no_node});
        c.add(2, five, log_of_terms({1}), {3, no_node});
        c.add(3, five, log_of_terms({1}), {3, no_node});
        c.add(4, five, log_of_terms({1}), {3, no_node});
        c.add(5, five, log_of_terms({1, 3}), {3, no_node});
        c.isolate(4);
        c.isolate(5);
        c.node(1).campaign();
        // Lose every append that would put the term-4 entry on a follower.
        c.settle([this](const message& m) {
            bool term4 = std::any_of(m.entries.begin(), m.entries.end(),
                                     [](const entry& e) { return e.term == 4; });
            return term4 && c.disk(m.to).last_offset() >= m.prev_offset;
        });
        ASSERT_EQ(c.node(1).role(), role::leader);
        ASSERT_EQ(c.node(1).term(), 4);
        ASSERT_EQ(c.disk(2).all_entries().size(), 2u);
        ASSERT_EQ(c.disk(2).all_entries()[1].term, 2);
        ASSERT_EQ(c.disk(3).all_entries()[1].term, 2);
    }
    cluster c;
};

TEST_F(figure8, old_term_entry_on_majority_is_not_committed) {
    EXPECT_EQ(c.node(1).commit_offset(), -1);
    // And rightly so: S5 (last term 3) can still win and overwrite it.
    c.isolate(1);
    c.heal(4);
    c.heal(5);
    for (int i = 0; i < 3 && c.node(5).role() != role::leader; ++i)
        c.elect(5);
    ASSERT_EQ(c.node(5).role(), role::leader);
    c.tick_all();
    EXPECT_EQ(c.disk(2).all_entries()[1].term, 3);
    EXPECT_EQ(c.disk(3).all_entries()[1].term, 3);
    c.expect_committed_prefixes_agree();
}

TEST_F(figure8, old_term_entry_commits_with_a_current_term_entry) {
    c.heal_all();
    c.isolate(5);
    c.tick_all();
    EXPECT_EQ(c.node(1).commit_offset(), 2);  // offsets 1 (term 2) and 2 (term 4) together
    // Now S5 cannot win: a majority holds a later last term.
    c.heal(5);
    c.node(5).campaign();
    c.settle();
    EXPECT_NE(c.node(5).role(), role::leader);
    for (int i = 0; i < 100 && c.leader() == no_node; ++i)
        c.tick_all();
    ASSERT_NE(c.leader(), no_node);
    ASSERT_NE(c.leader(), 5);
    c.tick_all(2);
    for (node_id id : c.ids()) {
        ASSERT_GE(c.disk(id).all_entries().size(), 3u) << "node " << id;
        EXPECT_EQ(c.disk(id).all_entries()[1].term, 2) << "node " << id;
    }
    c.expect_committed_prefixes_agree();
}

TEST(replication, leader_pipelines_appends_up_to_the_inflight_limit) {
    raft_options o;
    o.max_inflight_appends = 3;
    cluster c({1, 2, 3}, o);
    ASSERT_TRUE(c.elect(1));
    for (int i = 0; i < 5; ++i)
        ASSERT_GE(c.propose(1, "p" + std::to_string(i)), 0);
    // Three appends to node 2 left without waiting for any answer, then it stopped.
    std::vector<offset_t> prevs;
    for (const message& m : c.queue) {
        if (is_append_to(m, 2)) prevs.push_back(m.prev_offset);
    }
    ASSERT_EQ(prevs.size(), 3u);
    EXPECT_LT(prevs[0], prevs[1]);
    EXPECT_LT(prevs[1], prevs[2]);
    // Answers open the window for the rest.
    c.settle();
    EXPECT_TRUE(test::same_log(c.disk(2).all_entries(), c.disk(1).all_entries()));
    EXPECT_EQ(c.node(1).commit_offset(), c.node(1).log().last_offset());
}

// A lost acknowledgement must not leave an entry uncommitted in an idle group: the leader
// has to learn the follower's match again (etcd re-probes with an empty append on a
// heartbeat answer).
TEST(replication, lost_acknowledgement_is_recovered_by_heartbeats) {
    cluster c({1, 2, 3});
    ASSERT_TRUE(c.elect(1));
    c.isolate(3);  // node 2's copy is needed for a majority
    offset_t x = c.propose(1, "x");
    c.deliver_if([](const message& m) { return m.type == msg_type::append && m.to == 2; });
    ASSERT_EQ(c.disk(2).last_offset(), x);
    ASSERT_EQ(c.drop_if([](const message& m) { return m.type == msg_type::append_response; }), 1u);
    c.tick_all(30);
    EXPECT_EQ(c.node(1).commit_offset(), x);
    EXPECT_EQ(c.node(2).commit_offset(), x);
}

// Likewise when the lost answer left the follower's in-flight window full: later entries
// must still reach it.
TEST(replication, lost_acknowledgement_with_full_window_does_not_stall_follower) {
    raft_options o;
    o.max_inflight_appends = 1;
    cluster c({1, 2, 3}, o);
    ASSERT_TRUE(c.elect(1));
    offset_t x = c.propose(1, "x");
    c.deliver_if([](const message& m) { return m.type == msg_type::append; });
    c.drop_if([](const message& m) { return m.from == 2; });
    c.settle();
    ASSERT_EQ(c.node(1).commit_offset(), x);  // with node 3
    offset_t y = c.propose(1, "y");
    c.tick_all(30);
    EXPECT_EQ(c.node(1).commit_offset(), y);
    EXPECT_EQ(c.disk(2).last_offset(), y) << "node 2 never receives entries after x";
}

TEST(replication, too_much_uncommitted_refuses_proposals) {
    raft_options o;
    o.max_uncommitted_bytes = 2000;
    cluster c({1, 2, 3}, o);
    ASSERT_TRUE(c.elect(1));
    c.isolate(2);
    c.isolate(3);
    const std::string value(100, 'u');
    const size_t batch_size = data_batch(value).size();
    size_t accepted = 0;
    result<offset_t> r = offset_t{0};
    for (int i = 0; i < 100; ++i) {
        r = c.node(1).propose(data_batch(value), 0);
        if (!r) break;
        ++accepted;
    }
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), make_error_code(errc::too_much_uncommitted));
    EXPECT_GE(accepted * batch_size, 2000 - batch_size);
    EXPECT_LE(accepted * batch_size, 2000 + batch_size);
    // Once the backlog commits, proposals are taken again.
    c.heal_all();
    c.tick_all(2);
    EXPECT_EQ(c.node(1).commit_offset(), c.node(1).log().last_offset());
    EXPECT_TRUE(c.node(1).propose(data_batch(value), 0).has_value());
}

}  // namespace
}  // namespace trib::raft
