#include "sim/sim_network.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace trib::sim {

std::string describe(const raft::message& m) {
    std::string s = fmt::format("{} {}->{} term={}", raft::to_string(m.type), m.from, m.to, m.term);
    switch (m.type) {
        case raft::msg_type::pre_vote:
        case raft::msg_type::vote:
            s += fmt::format(" last={}@{}{}", m.last_offset, m.last_term,
                             m.transfer ? " transfer" : "");
            break;
        case raft::msg_type::pre_vote_response:
        case raft::msg_type::vote_response:
            s += m.granted ? " granted" : " rejected";
            break;
        case raft::msg_type::append:
            s +=
                fmt::format(" prev={}@{} entries={}", m.prev_offset, m.prev_term, m.entries.size());
            if (!m.entries.empty()) {
                s += fmt::format("[{}..{}]", m.entries.front().base_offset,
                                 m.entries.back().last_offset);
            }
            s += fmt::format(" commit={}", m.commit_offset);
            break;
        case raft::msg_type::append_response:
            s += fmt::format(" {} match={}", m.granted ? "ok" : "reject", m.match_offset);
            break;
        case raft::msg_type::snapshot:
            if (m.snap) {
                s += fmt::format(" snap={}@{} voters={}", m.snap->last_offset, m.snap->last_term,
                                 fmt::join(m.snap->config.voters, ","));
            }
            break;
        case raft::msg_type::heartbeat:
            s += fmt::format(" commit={}", m.commit_offset);
            break;
        case raft::msg_type::heartbeat_response:
            s += fmt::format(" last={}", m.match_offset);
            break;
        default:
            break;
    }
    return s;
}

sim_network::sim_network(uint64_t seed, trace& tr, sim_stats& stats)
    : _rng(mix(seed, stream::network)), _trace(tr), _stats(stats) {}

void sim_network::send(const raft::message& m, int64_t now) {
    ++_stats.messages;
    if (m.type == raft::msg_type::snapshot) {
        ++_stats.snapshots_sent;
    }
    if (_rng.chance(_conditions.drop)) {
        ++_stats.dropped;
        _trace.record(event::drop, {static_cast<int64_t>(m.type), m.from, m.to, m.term},
                      [&] { return "lost " + describe(m); });
        return;
    }
    enqueue(m, now);
    if (_rng.chance(_conditions.duplicate)) {
        ++_stats.duplicated;
        _trace.record(event::duplicate, {static_cast<int64_t>(m.type), m.from, m.to, m.term},
                      [&] { return "duplicated " + describe(m); });
        enqueue(m, now);
    }
}

void sim_network::enqueue(const raft::message& m, int64_t now) {
    // Delay 0 arrives later in the same tick, after everything already due.
    auto delay = static_cast<int64_t>(_rng.exponential(_conditions.delay_mean));
    _queue.push_back({.due = now + delay, .seq = _next_seq++, .msg = m});
    std::push_heap(_queue.begin(), _queue.end(), later);
    _trace.record(event::send,
                  {static_cast<int64_t>(m.type), m.from, m.to, m.term, now + delay,
                   static_cast<int64_t>(m.entries.size()), m.commit_offset},
                  [&] { return fmt::format("send {} (due {})", describe(m), now + delay); });
}

std::vector<raft::message> sim_network::take_due(int64_t now) {
    std::vector<raft::message> out;
    while (!_queue.empty() && _queue.front().due <= now) {
        std::pop_heap(_queue.begin(), _queue.end(), later);
        in_transit t = std::move(_queue.back());
        _queue.pop_back();
        if (is_cut(t.msg.from, t.msg.to)) {
            ++_stats.dropped;
            _trace.record(event::drop, {static_cast<int64_t>(t.msg.type), t.msg.from, t.msg.to, 1},
                          [&] { return "cut " + describe(t.msg); });
            continue;
        }
        out.push_back(std::move(t.msg));
    }
    return out;
}

}  // namespace trib::sim
