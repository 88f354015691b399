// The coordinator's deadlines: a timer index of each group's next due time, so a session,
// join, rebalance or sync timeout fires when it is due (Kafka's delayed operations), not at
// the next coarse tick; and the periodic sweep for offset retention.
#include <algorithm>
#include <vector>

#include "kafka/groups/core/coordinator.h"
#include "kafka/groups/core/records.h"
#include "kafka/protocol/error_codes.h"

namespace trib::kafka::groups {

namespace ec = error_code;

coordinator::retime_on_exit::~retime_on_exit() {
    _c.reschedule(_group_id);
}

namespace {

// A member waiting in a rebalance (for its join or sync answer) is timed by the rebalance,
// not by its session.
template <typename Group, typename Member>
bool waiting_in_rebalance(const Group& g, const Member& m) {
    return (g.state == group_state::preparing_rebalance && m.awaiting_join) ||
           (g.state == group_state::completing_rebalance && m.awaiting_sync);
}

}  // namespace

bool coordinator::tick_group(std::map<std::string, group>::iterator it, int64_t now, bool sweep) {
    group& g = it->second;
    std::erase_if(g.pending_members, [&](const auto& p) { return p.second <= now; });
    std::vector<std::string> expired;
    for (const auto& [id, m] : g.members) {
        if (!waiting_in_rebalance(g, m) && m.session_deadline <= now) expired.push_back(id);
    }
    for (const auto& id : expired)
        remove_member(g, id, ec::unknown_member_id, now);
    if (g.state == group_state::completing_rebalance && now >= g.deadline) {
        // The leader never sent the assignment: those who did not sync are out.
        std::vector<std::string> silent;
        for (const auto& [id, m] : g.members) {
            if (!m.awaiting_sync) silent.push_back(id);
        }
        for (const auto& id : silent)
            remove_member(g, id, ec::unknown_member_id, now);
        prepare_rebalance(g, now);
    } else if (!expired.empty() &&
               (g.state == group_state::stable || g.state == group_state::completing_rebalance)) {
        prepare_rebalance(g, now);
    } else {
        try_complete_join(g, now);
    }
    if (sweep) expire_offsets(g, now);
    // An empty group without offsets is forgotten: at once if it never had a generation,
    // else (with a tombstone for its metadata) once offsets would have expired.
    bool unused = g.state == group_state::empty && g.offsets.empty() && g.members.empty() &&
                  g.pending_members.empty();
    bool expired_group = g.generation > 0 && now - g.state_since >= _cfg.offsets_retention_ms;
    if (!unused || (g.generation != 0 && !expired_group)) return true;
    if (g.generation > 0) _records.push_back({g.id, encode_key(group_key{g.id}), std::nullopt});
    erase_group(it);
    return false;
}

int64_t coordinator::due_time(const group& g) {
    int64_t due = no_timer;
    for (const auto& [id, deadline] : g.pending_members)
        due = std::min(due, deadline);
    for (const auto& [id, m] : g.members) {
        if (!waiting_in_rebalance(g, m)) due = std::min(due, m.session_deadline);
    }
    if (g.state == group_state::completing_rebalance) due = std::min(due, g.deadline);
    if (g.state == group_state::preparing_rebalance) {
        // The initial delay ends first (the join may complete then), the rebalance timeout
        // at the latest.
        due = std::min(due, g.initial_delay_end > 0 ? g.initial_delay_end : g.deadline);
    }
    return due;
}

void coordinator::set_timer(group& g, int64_t due) {
    if (due == g.timer_at) return;
    if (g.timer_at != no_timer) _timers.erase({g.timer_at, g.id});
    g.timer_at = due;
    if (due != no_timer) _timers.emplace(due, g.id);
}

void coordinator::reschedule(group& g) {
    set_timer(g, due_time(g));
}

void coordinator::erase_group(std::map<std::string, group>::iterator it) {
    set_timer(it->second, no_timer);
    _groups.erase(it);
}

void coordinator::reschedule(const std::string& group_id) {
    if (group* g = find(group_id)) reschedule(*g);
}

coordinator::retime_on_exit coordinator::begin_call(const std::string& group_id, int64_t now) {
    fire_due(now);
    return {*this, group_id};
}

void coordinator::fire_due(int64_t now) {
    while (!_timers.empty() && _timers.begin()->first <= now) {
        auto [due, id] = *_timers.begin();
        _timers.erase(_timers.begin());
        auto it = _groups.find(id);
        if (it == _groups.end()) continue;
        it->second.timer_at = no_timer;
        if (!tick_group(it, now, false)) continue;
        reschedule(it->second);
        // Everything due at `now` has been acted on: a due time not after it would spin.
        // (The timer tests check it never happens.)
        if (it->second.timer_at <= now) set_timer(it->second, now + 1);
    }
}

std::optional<int64_t> coordinator::next_deadline() const {
    if (_timers.empty()) return std::nullopt;
    return _timers.begin()->first;
}

void coordinator::tick(int64_t now) {
    fire_due(now);
    for (auto it = _groups.begin(); it != _groups.end();) {
        auto next = std::next(it);
        if (tick_group(it, now, true)) reschedule(it->second);
        it = next;
    }
}

}  // namespace trib::kafka::groups
