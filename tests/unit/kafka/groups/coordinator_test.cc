// The group coordinator driven by a fake clock: joins, rebalances, late joiners, members that
// leave or vanish, static members, offsets, and recovery from the records it wrote.
#include "kafka/groups/core/coordinator.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "kafka/groups/core/records.h"
#include "kafka/protocol/error_codes.h"

namespace trib::kafka::groups {
namespace {

namespace ec = error_code;

constexpr int32_t session_ms = 10'000;
constexpr int32_t rebalance_ms = 30'000;

coordinator_config test_config() {
    coordinator_config c;
    c.initial_rebalance_delay_ms = 3000;
    c.offsets_retention_ms = 60'000;
    return c;
}

// One consumer as the test sees it: its id, and the last answers it got.
struct client {
    std::string id;
    std::optional<std::string> instance;
    std::optional<join_response> joined;
    std::optional<sync_response> synced;
    int32_t generation = -1;
};

struct harness {
    coordinator c{test_config(), "node"};
    int64_t now = 1'000'000;
    std::vector<log_record> log;  // everything the coordinator asked to persist

    join_request request(const client& cl, const std::string& protocol = "range") {
        join_request r;
        r.group_id = "g";
        r.member_id = cl.id;
        r.group_instance_id = cl.instance;
        r.client_id = "app";
        r.client_host = "/127.0.0.1";
        r.session_timeout_ms = session_ms;
        r.rebalance_timeout_ms = rebalance_ms;
        r.protocol_type = "consumer";
        r.protocols = {{protocol, bytes{1, 2, 3}}};
        r.require_known_member_id = true;
        return r;
    }

    void join(client& cl, const std::string& protocol = "range") {
        cl.joined.reset();
        c.join(request(cl, protocol), now, [&cl](join_response r) {
            if (r.error_code == ec::none) {
                cl.id = r.member_id;
                cl.generation = r.generation;
            }
            cl.joined = std::move(r);
        });
        drain();
    }

    // A new member's two-step join (KIP-394): the first asks for an id.
    void join_new(client& cl) {
        join(cl);
        if (!cl.instance) {
            ASSERT_TRUE(cl.joined);
            ASSERT_EQ(cl.joined->error_code, ec::member_id_required);
            cl.id = cl.joined->member_id;
            join(cl);
        }
    }

    void sync(client& cl, std::vector<std::pair<std::string, bytes>> assignments = {}) {
        cl.synced.reset();
        sync_request r;
        r.group_id = "g";
        r.member_id = cl.id;
        r.group_instance_id = cl.instance;
        r.generation = cl.generation;
        r.assignments = std::move(assignments);
        c.sync(std::move(r), now, [&cl](sync_response s) { cl.synced = std::move(s); });
        drain();
    }

    int16_t heartbeat(const client& cl) {
        return c.heartbeat("g", {cl.id, cl.instance}, cl.generation, now);
    }

    // Moves the clock as the driver does: to each deadline the timer index names, firing
    // it there (never spinning on one), then the sweep at the end.
    void advance(int64_t ms) {
        int64_t until = now + ms;
        while (auto next = c.next_deadline()) {
            if (*next > until) break;
            now = std::max(now, *next);
            c.fire_due(now);
            drain();
            auto after = c.next_deadline();
            ASSERT_TRUE(!after || *after > now) << "a deadline due at " << now << " stayed due";
        }
        now = until;
        c.tick(now);
        drain();
    }

    void drain() {
        for (auto& r : c.take_records())
            log.push_back(std::move(r));
    }
};

TEST(group_coordinator, a_lone_consumer_joins_after_the_initial_delay_and_gets_its_assignment) {
    harness h;
    client a;
    h.join_new(a);
    EXPECT_FALSE(a.joined);  // waiting for others during the initial rebalance delay
    h.advance(2999);
    EXPECT_FALSE(a.joined);
    h.advance(1);
    ASSERT_TRUE(a.joined);
    EXPECT_EQ(a.joined->error_code, ec::none);
    EXPECT_EQ(a.joined->generation, 1);
    EXPECT_EQ(a.joined->leader, a.id);
    EXPECT_EQ(a.joined->protocol_name, "range");
    ASSERT_EQ(a.joined->members.size(), 1U);
    EXPECT_EQ(a.joined->members[0].metadata, (bytes{1, 2, 3}));

    h.sync(a, {{a.id, bytes{9}}});
    ASSERT_TRUE(a.synced);
    EXPECT_EQ(a.synced->error_code, ec::none);
    EXPECT_EQ(a.synced->assignment, bytes{9});
    EXPECT_EQ(h.heartbeat(a), ec::none);
    EXPECT_EQ(h.c.describe("g").state, group_state::stable);
    ASSERT_FALSE(h.log.empty());  // the assignment was persisted
}

TEST(group_coordinator, three_consumers_starting_together_share_one_generation) {
    harness h;
    client a, b, c;
    h.join_new(a);
    h.advance(1000);
    h.join_new(b);
    h.join_new(c);
    h.advance(3000);  // each joiner extended the delay; now it is over
    for (auto* cl : {&a, &b, &c}) {
        ASSERT_TRUE(cl->joined);
        EXPECT_EQ(cl->joined->generation, 1);
        EXPECT_EQ(cl->joined->leader, a.id);
    }
    EXPECT_EQ(a.joined->members.size(), 3U);
    EXPECT_TRUE(b.joined->members.empty());  // only the leader sees the members

    h.sync(b);
    EXPECT_FALSE(b.synced);  // waits for the leader's assignment
    h.sync(a, {{a.id, bytes{1}}, {b.id, bytes{2}}, {c.id, bytes{3}}});
    ASSERT_TRUE(b.synced);
    EXPECT_EQ(b.synced->assignment, bytes{2});
    h.sync(c);
    ASSERT_TRUE(c.synced);
    EXPECT_EQ(c.synced->assignment, bytes{3});
}

struct stable_group : harness {
    client a, b, e;
    void SetUp() {
        join_new(a);
        join_new(b);
        join_new(e);
        advance(3000);
        sync(a, {{a.id, bytes{1}}, {b.id, bytes{2}}, {e.id, bytes{3}}});
        sync(b);
        sync(e);
    }
    void rejoin_all(std::initializer_list<client*> members) {
        for (auto* cl : members)
            join(*cl);
    }
};

TEST(group_coordinator, a_member_that_leaves_starts_a_rebalance_the_others_complete) {
    stable_group h;
    h.SetUp();
    EXPECT_EQ(h.c.leave("g", {{h.b.id, std::nullopt}}, h.now), std::vector<int16_t>{ec::none});
    EXPECT_EQ(h.heartbeat(h.a), ec::rebalance_in_progress);
    EXPECT_EQ(h.heartbeat(h.b), ec::unknown_member_id);
    h.rejoin_all({&h.a, &h.e});
    ASSERT_TRUE(h.a.joined && h.e.joined);
    EXPECT_EQ(h.a.joined->generation, 2);
    EXPECT_EQ(h.a.joined->members.size(), 2U);
}

TEST(group_coordinator, a_member_that_vanishes_is_removed_after_its_session_timeout) {
    stable_group h;
    h.SetUp();
    for (int i = 0; i < 3; ++i) {  // a and e keep heartbeating, b is gone
        h.advance(3000);
        EXPECT_EQ(h.heartbeat(h.a), ec::none);
        EXPECT_EQ(h.heartbeat(h.e), ec::none);
    }
    h.advance(3000);  // b's 10 s session is over
    EXPECT_EQ(h.heartbeat(h.a), ec::rebalance_in_progress);
    h.rejoin_all({&h.a, &h.e});
    ASSERT_TRUE(h.a.joined);
    EXPECT_EQ(h.a.joined->generation, 2);
    EXPECT_EQ(h.a.joined->members.size(), 2U);
    EXPECT_EQ(h.c.describe("g").members.size(), 2U);
}

TEST(group_coordinator, loading_other_groups_leaves_a_members_session_running) {
    // A node that comes to lead another group-log partition loads its groups; the groups it
    // already served keep their members' deadlines (they used to get a fresh session).
    stable_group h;
    h.SetUp();
    h.advance(6000);
    EXPECT_EQ(h.heartbeat(h.a), ec::none);
    EXPECT_EQ(h.heartbeat(h.e), ec::none);
    h.c.finish_load(h.now, [](const std::string& id) { return id == "other"; });
    h.advance(4500);  // b's session (from its last heartbeat, 10.5 s ago) is over
    EXPECT_EQ(h.heartbeat(h.a), ec::rebalance_in_progress);
}

TEST(group_coordinator, unloaded_groups_are_forgotten_and_their_waiters_told) {
    stable_group h;
    h.SetUp();
    h.c.unload([](const std::string& id) { return id == "g"; });
    EXPECT_TRUE(h.c.describe("g").members.empty());
    EXPECT_EQ(h.heartbeat(h.a), ec::unknown_member_id);
}

TEST(group_coordinator, a_late_joiner_triggers_a_rebalance_and_members_that_do_not_rejoin_drop) {
    stable_group h;
    h.SetUp();
    client d;
    h.join_new(d);
    EXPECT_FALSE(d.joined);
    EXPECT_EQ(h.heartbeat(h.b), ec::rebalance_in_progress);
    h.rejoin_all({&h.a, &h.b});  // e never rejoins (but keeps heartbeating)
    EXPECT_FALSE(h.a.joined);
    for (int i = 0; i < 5; ++i) {
        h.advance(rebalance_ms / 6);
        EXPECT_EQ(h.heartbeat(h.e), ec::rebalance_in_progress);
    }
    h.advance(rebalance_ms / 6);  // the rebalance timeout
    ASSERT_TRUE(h.a.joined && d.joined);
    EXPECT_EQ(h.a.joined->generation, 2);
    EXPECT_EQ(h.a.joined->members.size(), 3U);  // a, b and d
    EXPECT_EQ(h.heartbeat(h.e), ec::unknown_member_id);
}

TEST(group_coordinator, a_leader_that_never_syncs_is_replaced) {
    harness h;
    client a, b;
    h.join_new(a);
    h.join_new(b);
    h.advance(3000);
    h.sync(b);
    EXPECT_FALSE(b.synced);
    // a keeps heartbeating but never sends the assignment: at the sync deadline it is out.
    for (int64_t waited = 0; waited < rebalance_ms; waited += 3000) {
        EXPECT_EQ(h.heartbeat(a), ec::none);
        h.advance(3000);
    }
    ASSERT_TRUE(b.synced);
    EXPECT_EQ(b.synced->error_code, ec::rebalance_in_progress);
    h.join(b);
    ASSERT_TRUE(b.joined);
    EXPECT_EQ(b.joined->leader, b.id);
    EXPECT_EQ(b.joined->generation, 2);
}

// Two static members (a leads) in a stable group: a has partition data 1, b has 2.
struct static_pair : harness {
    client a, b;
    void SetUp() {
        a.instance = "host-a";
        b.instance = "host-b";
        join_new(a);
        join_new(b);
        advance(3000);
        sync(a, {{a.id, bytes{1}}, {b.id, bytes{2}}});
        sync(b);
    }
};

TEST(group_coordinator, a_restarted_static_member_takes_its_place_without_a_rebalance) {
    static_pair h;
    h.SetUp();
    client& a = h.a;
    client& b = h.b;
    client b2;  // b restarts: same instance id, no member id
    b2.instance = "host-b";
    h.join(b2);
    ASSERT_TRUE(b2.joined);
    EXPECT_EQ(b2.joined->error_code, ec::none);
    EXPECT_EQ(b2.joined->generation, 1);
    EXPECT_NE(b2.id, b.id);
    h.sync(b2);
    ASSERT_TRUE(b2.synced);
    EXPECT_EQ(b2.synced->assignment, bytes{2});
    EXPECT_EQ(h.heartbeat(b), ec::fenced_instance_id);  // the old incarnation is fenced
    EXPECT_EQ(h.heartbeat(a), ec::none);
    // The new id is in the log: after a restart b2 is still the member, not b.
    coordinator restarted(test_config(), "node2");
    for (const auto& r : h.log)
        restarted.replay(r.key, r.value);
    restarted.finish_load(h.now);
    EXPECT_EQ(restarted.heartbeat("g", {b2.id, b2.instance}, 1, h.now), ec::none);
    EXPECT_EQ(restarted.heartbeat("g", {b.id, b.instance}, 1, h.now), ec::fenced_instance_id);
}

// KIP-345: the leader restarting is no different. Before JoinGroup v9 it is told the old
// leader id (so it does not assign to a stable group); from v9 it is told it leads, with
// skip_assignment. Either way the group stays stable and the others keep their partitions.
void restart_static_leader(bool supports_skip_assignment) {
    static_pair h;
    h.SetUp();
    client& a = h.a;
    client& b = h.b;
    ASSERT_EQ(a.joined->leader, a.id);
    client a2;
    a2.instance = "host-a";
    auto req = h.request(a2);
    req.supports_skip_assignment = supports_skip_assignment;
    std::optional<join_response> got;
    h.c.join(req, h.now, [&](join_response r) { got = std::move(r); });
    h.drain();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->error_code, ec::none);
    EXPECT_EQ(got->generation, 1);
    EXPECT_NE(got->member_id, a.id);
    a2.id = got->member_id;
    a2.generation = got->generation;
    EXPECT_EQ(got->skip_assignment, supports_skip_assignment);
    if (supports_skip_assignment) {
        EXPECT_EQ(got->leader, a2.id);
        EXPECT_EQ(got->members.size(), 2U);
    } else {
        EXPECT_EQ(got->leader, a.id);
        EXPECT_TRUE(got->members.empty());
    }
    EXPECT_EQ(h.c.describe("g").state, group_state::stable);
    EXPECT_EQ(h.heartbeat(b), ec::none);  // no rebalance for the others
    h.sync(a2);
    ASSERT_TRUE(a2.synced);
    EXPECT_EQ(a2.synced->assignment, bytes{1});
    h.sync(b);
    EXPECT_EQ(b.synced->assignment, bytes{2});
    EXPECT_EQ(h.heartbeat(a), ec::fenced_instance_id);
    EXPECT_EQ(h.heartbeat(a2), ec::none);
    // It still leads: the next rebalance asks it for the assignment.
    client c;
    h.join_new(c);
    h.join(a2);
    h.join(b);
    ASSERT_TRUE(a2.joined);
    EXPECT_EQ(a2.joined->leader, a2.id);
    EXPECT_EQ(a2.joined->generation, 2);
}

TEST(group_coordinator, a_restarted_static_leader_keeps_the_group_stable) {
    restart_static_leader(false);
}

TEST(group_coordinator, a_restarted_static_leader_on_join_group_v9_is_told_to_skip_assigning) {
    restart_static_leader(true);
}

TEST(group_coordinator, a_static_member_restarting_with_other_protocols_causes_a_rebalance) {
    static_pair h;
    h.SetUp();
    client b2;
    b2.instance = "host-b";
    auto req = h.request(b2);
    req.protocols = {{"range", bytes{7, 7}}};  // a changed subscription
    std::optional<join_response> got;
    h.c.join(req, h.now, [&](join_response r) { got = std::move(r); });
    EXPECT_FALSE(got);  // waits for the rebalance
    EXPECT_EQ(h.heartbeat(h.a), ec::rebalance_in_progress);
}

TEST(group_coordinator, a_retried_sync_answers_the_abandoned_one) {
    harness h;
    client a, b;
    h.join_new(a);
    h.join_new(b);
    h.advance(3000);
    std::optional<sync_response> first;
    sync_request r;
    r.group_id = "g";
    r.member_id = b.id;
    r.generation = b.generation;
    h.c.sync(r, h.now, [&](sync_response x) { first = x; });
    h.sync(b);  // the client gave up on the first and asks again
    ASSERT_TRUE(first);
    EXPECT_EQ(first->error_code, ec::rebalance_in_progress);
    EXPECT_FALSE(b.synced);
    h.sync(a, {{a.id, bytes{1}}, {b.id, bytes{2}}});
    ASSERT_TRUE(b.synced);
    EXPECT_EQ(b.synced->assignment, bytes{2});
}

TEST(group_coordinator, a_static_member_restarting_mid_assignment_causes_a_rebalance) {
    harness h;
    client a, b;
    a.instance = "host-a";
    b.instance = "host-b";
    h.join_new(a);
    h.join_new(b);
    h.advance(3000);  // completing: the leader (a) is computing the assignment
    client b2;
    b2.instance = "host-b";
    h.join(b2);
    EXPECT_FALSE(b2.joined);  // waits for the new generation
    EXPECT_EQ(h.heartbeat(a), ec::rebalance_in_progress);
    h.join(a);
    ASSERT_TRUE(a.joined && b2.joined);
    EXPECT_EQ(a.joined->generation, 2);
    ASSERT_EQ(a.joined->members.size(), 2U);
    EXPECT_TRUE(a.joined->members[0].member_id == b2.id || a.joined->members[1].member_id == b2.id);
}

TEST(group_coordinator, shutdown_answers_every_waiting_request) {
    harness h;
    client a;
    h.join_new(a);
    EXPECT_FALSE(a.joined);
    h.c.abandon_waiters();
    ASSERT_TRUE(a.joined);
    EXPECT_EQ(a.joined->error_code, ec::coordinator_not_available);
}

TEST(group_coordinator, bad_requests_get_their_errors) {
    harness h;
    client a;
    auto r = h.request(a);
    r.session_timeout_ms = 10;
    std::optional<join_response> got;
    h.c.join(r, h.now, [&](join_response x) { got = x; });
    EXPECT_EQ(got->error_code, ec::invalid_session_timeout);
    r = h.request(a);
    r.group_id = "";
    h.c.join(r, h.now, [&](join_response x) { got = x; });
    EXPECT_EQ(got->error_code, ec::invalid_group_id);
    client ghost;
    ghost.id = "nobody";
    h.join(ghost);
    EXPECT_EQ(ghost.joined->error_code, ec::unknown_member_id);

    stable_group s;
    s.SetUp();
    client other;
    s.join(other, "roundrobin");  // shares no protocol with the group
    EXPECT_EQ(other.joined->error_code, ec::inconsistent_group_protocol);
    EXPECT_EQ(s.c.heartbeat("g", {s.a.id, std::nullopt}, 7, s.now), ec::illegal_generation);
    s.a.generation = 99;
    s.sync(s.a);
    EXPECT_EQ(s.a.synced->error_code, ec::illegal_generation);
}

offset_commit_request commit(const client& cl, int64_t offset, int32_t partition = 0) {
    offset_commit_request r;
    r.group_id = "g";
    r.generation = cl.generation;
    r.member_id = cl.id;
    r.group_instance_id = cl.instance;
    r.offsets = {{{"t", partition}, {offset, -1, "meta", 42}}};
    return r;
}

TEST(group_coordinator, offsets_are_committed_by_members_of_the_current_generation) {
    stable_group h;
    h.SetUp();
    EXPECT_EQ(h.c.commit_offsets(commit(h.a, 10), h.now), std::vector<int16_t>{ec::none});
    client stale = h.a;
    stale.generation = 0;
    EXPECT_EQ(h.c.commit_offsets(commit(stale, 11), h.now),
              std::vector<int16_t>{ec::illegal_generation});
    client outsider;  // generation -1, no member: only for groups without members
    EXPECT_EQ(h.c.commit_offsets(commit(outsider, 12), h.now),
              std::vector<int16_t>{ec::unknown_member_id});
    auto got = h.c.fetch_offsets("g", std::vector<topic_partition>{{"t", 0}, {"t", 1}});
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(got[0].second.offset, 10);
    EXPECT_EQ(got[0].second.metadata, "meta");
    EXPECT_EQ(got[1].second.offset, -1);

    auto big = commit(h.a, 13);
    big.offsets[0].second.metadata.assign(5000, 'x');
    EXPECT_EQ(h.c.commit_offsets(big, h.now), std::vector<int16_t>{ec::offset_metadata_too_large});
}

TEST(group_coordinator, a_restart_restores_groups_and_offsets_from_the_log) {
    stable_group h;
    h.SetUp();
    h.c.commit_offsets(commit(h.a, 10, 0), h.now);
    h.c.commit_offsets(commit(h.b, 20, 1), h.now);
    h.c.commit_offsets(commit(h.b, 21, 1), h.now);
    h.drain();

    coordinator restarted(test_config(), "node2");
    for (const auto& r : h.log)
        restarted.replay(r.key, r.value);
    restarted.finish_load(h.now);
    auto offsets = restarted.fetch_offsets("g", std::nullopt);
    ASSERT_EQ(offsets.size(), 2U);
    EXPECT_EQ(offsets[0].second.offset, 10);
    EXPECT_EQ(offsets[1].second.offset, 21);
    // The members carry on in their generation: no rebalance is needed.
    EXPECT_EQ(restarted.heartbeat("g", {h.b.id, std::nullopt}, h.b.generation, h.now), ec::none);
    auto d = restarted.describe("g");
    EXPECT_EQ(d.state, group_state::stable);
    ASSERT_EQ(d.members.size(), 3U);
}

TEST(group_coordinator, offsets_of_an_empty_group_expire_after_the_retention_time) {
    stable_group h;
    h.SetUp();
    h.c.commit_offsets(commit(h.a, 10), h.now);
    EXPECT_EQ(h.c.leave("g", {{h.a.id, {}}, {h.b.id, {}}, {h.e.id, {}}}, h.now),
              (std::vector<int16_t>{ec::none, ec::none, ec::none}));
    EXPECT_EQ(h.c.describe("g").state, group_state::empty);
    h.advance(59'000);
    EXPECT_EQ(h.c.fetch_offsets("g", std::nullopt).size(), 1U);
    h.advance(1'000);
    EXPECT_TRUE(h.c.fetch_offsets("g", std::nullopt).empty());
    EXPECT_EQ(h.c.describe("g").state, group_state::dead);  // forgotten
    // The log says so too: a restart does not bring them back.
    coordinator restarted(test_config(), "node2");
    for (const auto& r : h.log)
        restarted.replay(r.key, r.value);
    EXPECT_TRUE(restarted.fetch_offsets("g", std::nullopt).empty());
}

TEST(group_coordinator, only_empty_groups_can_be_deleted) {
    stable_group h;
    h.SetUp();
    h.c.commit_offsets(commit(h.a, 10), h.now);
    EXPECT_EQ(h.c.delete_group("g", h.now), ec::non_empty_group);
    EXPECT_EQ(h.c.delete_group("nope", h.now), ec::group_id_not_found);
    h.c.leave("g", {{h.a.id, {}}, {h.b.id, {}}, {h.e.id, {}}}, h.now);
    EXPECT_EQ(h.c.delete_group("g", h.now), ec::none);
    EXPECT_TRUE(h.c.fetch_offsets("g", std::nullopt).empty());
    EXPECT_TRUE(h.c.list().empty());
}

TEST(group_coordinator, a_session_expires_exactly_at_its_deadline) {
    harness h;
    client a;
    h.join_new(a);
    h.advance(3000);
    h.sync(a, {{a.id, bytes{1}}});
    h.c.commit_offsets(commit(a, 7), h.now);
    // The timer index names the session's end; a call one millisecond before it still sees
    // the member, a call at it does not (Kafka expires at the deadline, so a tool deleting
    // the group session.timeout.ms after the last commit succeeds).
    EXPECT_EQ(h.c.next_deadline(), h.now + session_ms);
    int64_t deadline = h.now + session_ms;
    EXPECT_EQ(h.c.delete_group("g", deadline - 1), ec::non_empty_group);
    EXPECT_EQ(h.c.delete_group("g", deadline), ec::none);
}

TEST(group_coordinator, the_timer_index_follows_heartbeats_and_rebalances) {
    stable_group h;
    h.SetUp();
    // Each heartbeat moves that member's deadline; the index names the earliest one.
    h.advance(1000);
    EXPECT_EQ(h.heartbeat(h.a), ec::none);
    h.advance(1000);
    EXPECT_EQ(h.heartbeat(h.b), ec::none);
    EXPECT_EQ(h.heartbeat(h.e), ec::none);
    EXPECT_EQ(h.c.next_deadline(), h.now - 1000 + session_ms);  // a's
    // A rebalance: members waiting to rejoin are timed by the rebalance, not their sessions.
    client d;
    h.join_new(d);
    h.rejoin_all({&h.a, &h.b, &h.e});
    ASSERT_TRUE(h.a.joined);  // all rejoined: the generation completed at once
    EXPECT_EQ(h.a.joined->generation, 2);
    EXPECT_EQ(h.c.next_deadline(), h.now + session_ms);
    // No member left: no deadline at all once the group is empty.
    h.c.leave("g", {{h.a.id, {}}, {h.b.id, {}}, {h.e.id, {}}, {d.id, {}}}, h.now);
    h.advance(1);
    EXPECT_FALSE(h.c.next_deadline());
}

TEST(group_coordinator, simple_commits_create_a_group_that_only_stores_offsets) {
    harness h;
    client tool;
    EXPECT_EQ(h.c.commit_offsets(commit(tool, 5), h.now), std::vector<int16_t>{ec::none});
    auto listing = h.c.list();
    ASSERT_EQ(listing.size(), 1U);
    EXPECT_EQ(listing[0].state, group_state::empty);
    std::vector<int16_t> per_partition;
    EXPECT_EQ(h.c.delete_offsets("g", {{"t", 0}}, per_partition, h.now), ec::none);
    EXPECT_EQ(per_partition, std::vector<int16_t>{ec::none});
    EXPECT_TRUE(h.c.fetch_offsets("g", std::nullopt).empty());
}

TEST(group_records, round_trip_and_refuse_damaged_input) {
    stored_group g;
    g.protocol_type = "consumer";
    g.generation = 7;
    g.protocol = "range";
    g.leader = "m1";
    g.state_timestamp_ms = 123;
    g.members.push_back({"m1", "i1", "c", "h", 1, 2, bytes{1}, bytes{2, 3}});
    auto value = encode_value(g);
    auto back = decode_group_value(value);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->members.size(), 1U);
    EXPECT_EQ(back->members[0].assignment, (bytes{2, 3}));
    EXPECT_EQ(back->leader, "m1");
    for (size_t cut = 0; cut < value.size(); ++cut) {
        bytes truncated(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(cut));
        EXPECT_FALSE(decode_group_value(truncated)) << cut;
    }
    auto key = encode_key(offset_key{"g", {"t", 3}});
    auto k = decode_key(key);
    ASSERT_TRUE(k);
    EXPECT_EQ(std::get<offset_key>(*k).partition.partition, 3);
    key.push_back(0);  // trailing garbage
    EXPECT_FALSE(decode_key(key));
    EXPECT_FALSE(decode_key(bytes{0, 9, 1}));  // unknown version
    EXPECT_FALSE(decode_offset_value(bytes{}));
}

}  // namespace
}  // namespace trib::kafka::groups
