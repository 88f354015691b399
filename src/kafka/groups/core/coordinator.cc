// Membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup and their timeouts. Offsets, the
// group log and the administrative calls are in offsets.cc.
#include "kafka/groups/core/coordinator.h"

#include <algorithm>
#include <limits>

#include "base/assert.h"
#include "kafka/groups/core/records.h"
#include "kafka/protocol/error_codes.h"

namespace trib::kafka::groups {

namespace ec = error_code;

std::string_view state_name(group_state s) {
    switch (s) {
        case group_state::empty:
            return "Empty";
        case group_state::preparing_rebalance:
            return "PreparingRebalance";
        case group_state::completing_rebalance:
            return "CompletingRebalance";
        case group_state::stable:
            return "Stable";
        case group_state::dead:
            return "Dead";
    }
    return "Dead";
}

coordinator::coordinator(coordinator_config cfg, std::string member_id_prefix)
    : _cfg(cfg), _prefix(std::move(member_id_prefix)) {}

coordinator::group* coordinator::find(const std::string& id) {
    auto it = _groups.find(id);
    return it == _groups.end() ? nullptr : &it->second;
}

const coordinator::group* coordinator::find(const std::string& id) const {
    auto it = _groups.find(id);
    return it == _groups.end() ? nullptr : &it->second;
}

coordinator::group& coordinator::get_or_create(const std::string& id, int64_t now) {
    auto [it, created] = _groups.try_emplace(id);
    if (created) {
        it->second.id = id;
        it->second.state_since = now;
    }
    return it->second;
}

std::string coordinator::new_member_id(const std::string& client_id) {
    return client_id + "-" + _prefix + "-" + std::to_string(++_next_member);
}

void coordinator::fail_join(member& m, int16_t code) {
    if (!m.awaiting_join) return;
    join_response r;
    r.error_code = code;
    r.member_id = m.id;
    std::exchange(m.awaiting_join, nullptr)(std::move(r));
}

void coordinator::fail_sync(member& m, int16_t code) {
    if (!m.awaiting_sync) return;
    sync_response r;
    r.error_code = code;
    std::exchange(m.awaiting_sync, nullptr)(std::move(r));
}

void coordinator::fail_waiting(member& m, int16_t code) {
    fail_join(m, code);
    fail_sync(m, code);
}

void coordinator::set_state(group& g, group_state s, int64_t now) {
    g.state = s;
    g.state_since = now;
}

void coordinator::join(join_request req, int64_t now, join_callback done) {
    auto retime = begin_call(req.group_id, now);
    auto fail = [&](int16_t code) {
        join_response r;
        r.error_code = code;
        r.member_id = req.member_id;
        done(std::move(r));
    };
    if (req.group_id.empty()) return fail(ec::invalid_group_id);
    if (req.session_timeout_ms < _cfg.min_session_timeout_ms ||
        req.session_timeout_ms > _cfg.max_session_timeout_ms) {
        return fail(ec::invalid_session_timeout);
    }
    if (req.rebalance_timeout_ms <= 0) req.rebalance_timeout_ms = req.session_timeout_ms;  // v0
    group* existing = find(req.group_id);
    if (!existing && !req.member_id.empty()) return fail(ec::unknown_member_id);
    group& g = existing ? *existing : get_or_create(req.group_id, now);
    if (!protocols_compatible(g, req)) return fail(ec::inconsistent_group_protocol);
    if (req.member_id.empty()) return join_new_member(g, req, now, done);
    if (auto pending = g.pending_members.find(req.member_id); pending != g.pending_members.end()) {
        // The second JoinGroup of KIP-394, with the id we handed out.
        g.pending_members.erase(pending);
        return join_new_member(g, req, now, done);
    }
    auto it = g.members.find(req.member_id);
    if (it == g.members.end()) {
        bool fenced = req.group_instance_id && g.static_members.contains(*req.group_instance_id);
        return fail(fenced ? ec::fenced_instance_id : ec::unknown_member_id);
    }
    if (it->second.instance_id != req.group_instance_id) return fail(ec::fenced_instance_id);
    join_known_member(g, it->second, req, now, done);
}

bool coordinator::protocols_compatible(const group& g, const join_request& req) const {
    if (req.protocol_type.empty() || req.protocols.empty()) return false;
    if (g.members.empty()) return true;
    if (req.protocol_type != g.protocol_type) return false;
    // At least one of its protocols must be supported by every current member.
    return std::ranges::any_of(req.protocols, [&](const auto& offered) {
        return std::ranges::all_of(g.members, [&](const auto& entry) {
            return std::ranges::any_of(entry.second.protocols,
                                       [&](const auto& p) { return p.first == offered.first; });
        });
    });
}

void coordinator::join_new_member(group& g, join_request& req, int64_t now, join_callback& done) {
    bool is_static = req.group_instance_id.has_value();
    if (!is_static && req.require_known_member_id && req.member_id.empty()) {
        // KIP-394: hand out an id first, so a client that times out and retries does not
        // leave a ghost member behind.
        std::string id = new_member_id(req.client_id);
        g.pending_members[id] = now + req.session_timeout_ms;
        join_response r;
        r.error_code = ec::member_id_required;
        r.member_id = id;
        return done(std::move(r));
    }
    if (is_static) {
        auto known = g.static_members.find(*req.group_instance_id);
        if (known != g.static_members.end()) {
            // A static member restarted: the new id replaces the old one, which is fenced.
            std::string old_id = known->second;
            member m = std::move(g.members.at(old_id));
            g.members.erase(old_id);
            fail_waiting(m, ec::fenced_instance_id);
            bool was_leader = g.leader == old_id;
            m.id = req.member_id.empty() ? new_member_id(req.client_id) : req.member_id;
            known->second = m.id;
            if (was_leader) g.leader = m.id;
            auto& placed = g.members[m.id] = std::move(m);
            if (g.state == group_state::completing_rebalance) {
                // The leader is assigning to the old id: this generation cannot serve the
                // new one, so rebalance (as Kafka does).
                placed.protocols = std::move(req.protocols);
                placed.awaiting_join = std::move(done);
                placed.session_deadline = now + req.session_timeout_ms;
                return prepare_rebalance(g, now);
            }
            if (g.state == group_state::stable && placed.protocols == req.protocols) {
                return rejoin_static_unchanged(g, placed, old_id, req, now, done);
            }
            // The new id must survive a restart, or the running consumer would be fenced.
            if (g.state == group_state::stable) persist_group(g);
            return join_known_member(g, placed, req, now, done);
        }
    }
    if (g.members.size() >= _cfg.max_group_size) {
        join_response r;
        r.error_code = ec::group_max_size_reached;
        return done(std::move(r));
    }
    member m;
    m.id = req.member_id.empty() ? new_member_id(req.client_id) : req.member_id;
    m.instance_id = req.group_instance_id;
    m.client_id = req.client_id;
    m.client_host = req.client_host;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    m.protocol_type = req.protocol_type;
    m.protocols = std::move(req.protocols);
    m.awaiting_join = std::move(done);
    if (is_static) g.static_members[*m.instance_id] = m.id;
    add_member(g, std::move(m), now);
}

// KIP-345: a static member that restarts into a stable group with the same protocols gets
// the current generation back and keeps its assignment, without a rebalance, also when it
// led the group. A leader that cannot be told to skip the assignment (JoinGroup before v9)
// is named by its old id, so it acts as a follower and does not assign to a stable group
// that would never hand the result out; from v9 it learns it leads, with skip_assignment.
void coordinator::rejoin_static_unchanged(group& g, member& m, const std::string& old_id,
                                          const join_request& req, int64_t now,
                                          join_callback& done) {
    m.session_deadline = now + req.session_timeout_ms;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    m.client_id = req.client_id;
    m.client_host = req.client_host;
    persist_group(g);  // the new id must survive a restart, or the consumer would be fenced
    bool leads = g.leader == m.id;
    join_response r = join_answer(g, m);
    if (leads && !req.supports_skip_assignment) {
        r.leader = old_id;
        r.members.clear();
    }
    r.skip_assignment = leads && req.supports_skip_assignment;
    done(std::move(r));
}

void coordinator::add_member(group& g, member m, int64_t now) {
    if (g.members.empty()) g.protocol_type = m.protocol_type;
    m.joined_order = ++_next_member;
    m.session_deadline = now + m.session_timeout_ms;
    g.members[m.id] = std::move(m);
    if (g.state == group_state::preparing_rebalance) {
        // New members arriving during the initial delay extend it, up to the rebalance timeout.
        if (g.initial_delay_end > now) {
            g.initial_delay_end =
                std::min<int64_t>(now + _cfg.initial_rebalance_delay_ms, g.deadline);
        }
        try_complete_join(g, now);
    } else {
        prepare_rebalance(g, now);
    }
}

void coordinator::join_known_member(group& g, member& m, join_request& req, int64_t now,
                                    join_callback& done) {
    bool same_protocols = m.protocols == req.protocols;
    m.session_deadline = now + req.session_timeout_ms;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    m.client_id = req.client_id;
    m.client_host = req.client_host;
    auto wait_for_rebalance = [&] {
        m.protocols = std::move(req.protocols);
        fail_join(m, ec::rebalance_in_progress);  // a retried join replaces the one it gave up on
        m.awaiting_join = std::move(done);
        if (g.state == group_state::preparing_rebalance) {
            try_complete_join(g, now);
        } else {
            prepare_rebalance(g, now);
        }
    };
    switch (g.state) {
        case group_state::preparing_rebalance:
            return wait_for_rebalance();
        case group_state::completing_rebalance:
            // It missed the join response: send it again, unless it changed its protocols.
            if (same_protocols) return done(join_answer(g, m));
            return wait_for_rebalance();
        case group_state::stable:
            // A follower rejoining unchanged gets the current generation; the leader rejoining
            // (its subscription may have changed) or a changed member starts a rebalance.
            if (same_protocols && g.leader != m.id) return done(join_answer(g, m));
            return wait_for_rebalance();
        case group_state::empty:
        case group_state::dead:
            break;
    }
    join_response r;
    r.error_code = ec::unknown_member_id;
    r.member_id = m.id;
    done(std::move(r));
}

void coordinator::prepare_rebalance(group& g, int64_t now) {
    if (g.state == group_state::completing_rebalance) {
        // Members waiting for the old generation's assignment must rejoin. An answered
        // member's session starts again (as Kafka does): it was not timed while it waited.
        for (auto& [id, m] : g.members) {
            m.assignment.clear();
            if (m.awaiting_sync) m.session_deadline = now + m.session_timeout_ms;
            fail_sync(m, ec::rebalance_in_progress);
        }
    }
    int32_t timeout = 0;
    for (const auto& [id, m] : g.members)
        timeout = std::max(timeout, m.rebalance_timeout_ms);
    bool first = g.state == group_state::empty;
    set_state(g, group_state::preparing_rebalance, now);
    g.deadline = now + timeout;
    // The first rebalance of an empty group waits a little for more members to arrive, so
    // consumers starting together do not cause one rebalance each.
    g.initial_delay_end =
        first ? std::min<int64_t>(now + _cfg.initial_rebalance_delay_ms, g.deadline) : 0;
    try_complete_join(g, now);
}

void coordinator::try_complete_join(group& g, int64_t now) {
    if (g.state != group_state::preparing_rebalance) return;
    if (g.initial_delay_end > now) return;
    g.initial_delay_end = 0;  // over: no longer a deadline
    bool all_joined =
        g.pending_members.empty() && std::ranges::all_of(g.members, [](const auto& e) {
            return static_cast<bool>(e.second.awaiting_join);
        });
    if (all_joined || now >= g.deadline) complete_join(g, now);
}

void coordinator::complete_join(group& g, int64_t now) {
    // Members that did not rejoin in time are out of the new generation.
    std::vector<std::string> gone;
    for (const auto& [id, m] : g.members) {
        if (!m.awaiting_join) gone.push_back(id);
    }
    for (const auto& id : gone)
        remove_member(g, id, ec::unknown_member_id, now);
    g.pending_members.clear();
    ++g.generation;
    if (g.members.empty()) {
        g.protocol.reset();
        g.leader.reset();
        set_state(g, group_state::empty, now);
        persist_group(g);
        return;
    }
    g.protocol = select_protocol(g);
    if (!g.leader || !g.members.contains(*g.leader)) {
        auto first = std::ranges::min_element(g.members, {},
                                              [](const auto& e) { return e.second.joined_order; });
        g.leader = first->first;
    }
    set_state(g, group_state::completing_rebalance, now);
    int32_t timeout = 0;
    for (auto& [id, m] : g.members) {
        timeout = std::max(timeout, m.rebalance_timeout_ms);
        m.session_deadline = now + m.session_timeout_ms;
    }
    g.deadline = now + timeout;
    for (auto& [id, m] : g.members) {
        std::exchange(m.awaiting_join, nullptr)(join_answer(g, m));
    }
}

join_response coordinator::join_answer(const group& g, const member& m) const {
    join_response r;
    r.generation = g.generation;
    r.protocol_type = g.protocol_type;
    r.protocol_name = g.protocol;
    r.leader = g.leader.value_or("");
    r.member_id = m.id;
    if (g.leader == m.id) {
        for (const auto& [id, other] : g.members) {
            auto p = std::ranges::find_if(other.protocols,
                                          [&](const auto& e) { return e.first == g.protocol; });
            r.members.push_back(
                {id, other.instance_id, p == other.protocols.end() ? bytes{} : p->second});
        }
    }
    return r;
}

// Every member votes for its most preferred protocol among those all members support.
std::string coordinator::select_protocol(const group& g) const {
    std::map<std::string, int> votes;
    const auto& any = g.members.begin()->second;
    for (const auto& offered : any.protocols) {
        bool everyone = std::ranges::all_of(g.members, [&](const auto& e) {
            return std::ranges::any_of(e.second.protocols,
                                       [&](const auto& p) { return p.first == offered.first; });
        });
        if (everyone) votes[offered.first] = 0;
    }
    TRIB_ASSERT_MSG(!votes.empty(), "members of group {} share no protocol", g.id);
    for (const auto& [id, m] : g.members) {
        for (const auto& [name, meta] : m.protocols) {
            if (auto v = votes.find(name); v != votes.end()) {
                ++v->second;
                break;
            }
        }
    }
    return std::ranges::max_element(votes, {}, [](const auto& v) { return v.second; })->first;
}

void coordinator::remove_member(group& g, const std::string& member_id, int16_t reason,
                                int64_t now) {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return;
    member& m = it->second;
    fail_waiting(m, reason);
    if (m.instance_id) g.static_members.erase(*m.instance_id);
    if (g.leader == member_id) g.leader.reset();
    g.members.erase(it);
    (void)now;
}

void coordinator::sync(sync_request req, int64_t now, sync_callback done) {
    auto retime = begin_call(req.group_id, now);
    auto fail = [&](int16_t code) {
        sync_response r;
        r.error_code = code;
        done(std::move(r));
    };
    group* g = find(req.group_id);
    if (!g) return fail(ec::unknown_member_id);
    auto it = g->members.find(req.member_id);
    if (it == g->members.end()) {
        bool fenced = req.group_instance_id && g->static_members.contains(*req.group_instance_id);
        return fail(fenced ? ec::fenced_instance_id : ec::unknown_member_id);
    }
    member& m = it->second;
    if (m.instance_id != req.group_instance_id) return fail(ec::fenced_instance_id);
    if (req.generation != g->generation) return fail(ec::illegal_generation);
    if ((req.protocol_type && *req.protocol_type != g->protocol_type) ||
        (req.protocol_name && req.protocol_name != g->protocol)) {
        return fail(ec::inconsistent_group_protocol);
    }
    auto answer = [&](const member& to) {
        sync_response r;
        r.protocol_type = g->protocol_type;
        r.protocol_name = g->protocol;
        r.assignment = to.assignment;
        return r;
    };
    switch (g->state) {
        case group_state::preparing_rebalance:
            return fail(ec::rebalance_in_progress);
        case group_state::stable:
            m.session_deadline = now + m.session_timeout_ms;
            return done(answer(m));
        case group_state::completing_rebalance:
            break;
        case group_state::empty:
        case group_state::dead:
            return fail(ec::unknown_member_id);
    }
    m.session_deadline = now + m.session_timeout_ms;
    fail_sync(m, ec::rebalance_in_progress);  // a retried SyncGroup replaces the abandoned one
    m.awaiting_sync = std::move(done);
    if (g->leader != m.id) return;
    for (auto& [id, other] : g->members)
        other.assignment.clear();
    for (auto& [id, assignment] : req.assignments) {
        if (auto target = g->members.find(id); target != g->members.end()) {
            target->second.assignment = std::move(assignment);
        }
    }
    set_state(*g, group_state::stable, now);
    persist_group(*g);
    for (auto& [id, other] : g->members) {
        if (!other.awaiting_sync) continue;
        other.session_deadline = now + other.session_timeout_ms;
        std::exchange(other.awaiting_sync, nullptr)(answer(other));
    }
}

int16_t coordinator::heartbeat(const std::string& group_id, const member_identity& who,
                               int32_t generation, int64_t now) {
    auto retime = begin_call(group_id, now);
    group* g = find(group_id);
    if (!g) return ec::unknown_member_id;
    auto it = g->members.find(who.member_id);
    if (it == g->members.end()) {
        bool fenced = who.group_instance_id && g->static_members.contains(*who.group_instance_id);
        return fenced ? ec::fenced_instance_id : ec::unknown_member_id;
    }
    if (it->second.instance_id != who.group_instance_id) return ec::fenced_instance_id;
    if (generation != g->generation) return ec::illegal_generation;
    it->second.session_deadline = now + it->second.session_timeout_ms;
    if (g->state == group_state::preparing_rebalance) return ec::rebalance_in_progress;
    return ec::none;
}

std::vector<int16_t> coordinator::leave(const std::string& group_id,
                                        const std::vector<member_identity>& members, int64_t now) {
    auto retime = begin_call(group_id, now);
    std::vector<int16_t> out;
    group* g = find(group_id);
    bool removed = false;
    for (const auto& who : members) {
        if (!g) {
            out.push_back(ec::unknown_member_id);
            continue;
        }
        std::string id = who.member_id;
        if (who.group_instance_id) {
            auto known = g->static_members.find(*who.group_instance_id);
            if (known == g->static_members.end()) {
                out.push_back(ec::unknown_member_id);
                continue;
            }
            if (!id.empty() && id != known->second) {
                out.push_back(ec::fenced_instance_id);
                continue;
            }
            id = known->second;
        }
        if (g->pending_members.erase(id) > 0) {
            out.push_back(ec::none);
            removed = true;
            continue;
        }
        if (!g->members.contains(id)) {
            out.push_back(ec::unknown_member_id);
            continue;
        }
        remove_member(*g, id, ec::unknown_member_id, now);
        out.push_back(ec::none);
        removed = true;
    }
    if (g && removed) {
        if (g->state == group_state::preparing_rebalance) {
            try_complete_join(*g, now);
        } else if (g->state == group_state::stable ||
                   g->state == group_state::completing_rebalance) {
            prepare_rebalance(*g, now);
        }
    }
    return out;
}

void coordinator::persist_group(const group& g) {
    stored_group v;
    v.protocol_type = g.protocol_type;
    v.generation = g.generation;
    v.protocol = g.protocol;
    v.leader = g.leader;
    v.state_timestamp_ms = g.state_since;
    for (const auto& [id, m] : g.members) {
        stored_member s;
        s.member_id = id;
        s.group_instance_id = m.instance_id;
        s.client_id = m.client_id;
        s.client_host = m.client_host;
        s.rebalance_timeout_ms = m.rebalance_timeout_ms;
        s.session_timeout_ms = m.session_timeout_ms;
        auto p =
            std::ranges::find_if(m.protocols, [&](const auto& e) { return e.first == g.protocol; });
        if (p != m.protocols.end()) s.subscription = p->second;
        s.assignment = m.assignment;
        v.members.push_back(std::move(s));
    }
    _records.push_back({g.id, encode_key(group_key{g.id}), encode_value(v)});
}

void coordinator::abandon_waiters() {
    for (auto& [id, g] : _groups) {
        for (auto& [mid, m] : g.members)
            fail_waiting(m, ec::coordinator_not_available);
    }
}

void coordinator::unload(const std::function<bool(const std::string& group_id)>& which) {
    for (auto it = _groups.begin(); it != _groups.end();) {
        if (!which(it->first)) {
            ++it;
            continue;
        }
        for (auto& [mid, m] : it->second.members)
            fail_waiting(m, ec::not_coordinator);
        erase_group(it++);
    }
}

std::vector<log_record> coordinator::take_records() {
    return std::exchange(_records, {});
}

}  // namespace trib::kafka::groups
