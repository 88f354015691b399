// Log replication (leader and follower sides), commit, membership changes, snapshots and the
// ready/advance handshake with the driver.
#include <algorithm>

#include "base/assert.h"
#include "model/record_batch.h"
#include "raft/core/raft_node.h"

namespace trib::raft {

// ---- proposals and membership ----

result<offset_t> raft_node::append_as_leader(std::vector<uint8_t> batch, entry_kind kind) {
    offset_t base = _log.last_offset() + 1;
    if (batch.size() < model::batch_header_size) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    TRIB_ASSERT_MSG(_term <= INT32_MAX, "term {} does not fit a partition leader epoch", _term);
    model::set_base_offset(batch, base);
    model::set_partition_leader_epoch(batch, static_cast<int32_t>(_term));
    auto e =
        entry_from_verified_batch(std::make_shared<const std::vector<uint8_t>>(std::move(batch)));
    if (!e || e->kind != kind) {
        // Only Raft writes its own control types; anything else is refused whole.
        return unexpected(make_error_code(errc::invalid_batch));
    }
    _uncommitted.emplace_back(e->last_offset, e->size());
    _uncommitted_bytes += e->size();
    std::vector<entry> one{std::move(*e)};
    learn_configs(one);
    _log.append(std::move(one));
    _pending_broadcast = true;
    return base;
}

result<offset_t> raft_node::propose(std::vector<uint8_t> batch, int64_t /*now_ms*/) {
    if (_role != raft::role::leader) {
        return unexpected(make_error_code(errc::not_leader));
    }
    if (_transfer_to != no_node) {
        return unexpected(make_error_code(errc::leadership_transferring));
    }
    if (_uncommitted_bytes > 0 && _uncommitted_bytes + batch.size() > _opt.max_uncommitted_bytes) {
        return unexpected(make_error_code(errc::too_much_uncommitted));
    }
    return append_as_leader(std::move(batch), entry_kind::data);
}

result<offset_t> raft_node::change_config(const configuration& next, int64_t now_ms) {
    if (_role != raft::role::leader) {
        return unexpected(make_error_code(errc::not_leader));
    }
    if (_transfer_to != no_node) {
        return unexpected(make_error_code(errc::leadership_transferring));
    }
    if (_commit < _term_start_offset) {
        return unexpected(make_error_code(errc::no_commit_in_term));
    }
    if (!_configs.empty() && _configs.back().first > _commit) {
        return unexpected(make_error_code(errc::config_change_pending));
    }
    return append_as_leader(make_config_batch(next, now_ms), entry_kind::config);
}

result<offset_t> raft_node::add_voter(node_id id, int64_t now_ms) {
    if (id == no_node || _config.contains(id)) {
        return unexpected(make_error_code(errc::invalid_config_change));
    }
    configuration next = _config;
    next.voters.insert(std::upper_bound(next.voters.begin(), next.voters.end(), id), id);
    return change_config(next, now_ms);
}

result<offset_t> raft_node::remove_voter(node_id id, int64_t now_ms) {
    if (!_config.contains(id) || _config.voters.size() == 1) {
        return unexpected(make_error_code(errc::invalid_config_change));
    }
    configuration next = _config;
    std::erase(next.voters, id);
    return change_config(next, now_ms);
}

void raft_node::learn_configs(const std::vector<entry>& entries) {
    bool changed = false;
    for (const entry& e : entries) {
        if (e.kind == entry_kind::config) {
            auto c = config_of(e);
            TRIB_ASSERT_MSG(c.has_value(), "config entry at {} does not parse", e.base_offset);
            _configs.emplace_back(e.base_offset, std::move(*c));
            changed = true;
        }
    }
    if (changed) {
        on_config_changed();
    }
}

void raft_node::forget_configs_from(offset_t offset) {
    size_t before = _configs.size();
    std::erase_if(_configs, [&](const auto& c) { return c.first >= offset; });
    if (_configs.size() != before) {
        on_config_changed();
    }
}

void raft_node::apply_config_from_log() {
    _config = _configs.empty() ? _log.snapshot().config : _configs.back().second;
}

void raft_node::on_config_changed() {
    // A configuration takes effect when appended, committed or not (the dissertation's rule).
    apply_config_from_log();
    if (_role != raft::role::leader) {
        return;
    }
    for (node_id v : _config.voters) {
        if (v != _opt.id && !_progress.contains(v)) {
            progress& p = _progress[v];
            p.next = _log.last_offset() + 1;
            p.recent_active = true;
        }
    }
    // Nodes the change removes keep being replicated to until it commits, so they learn of
    // their removal (and stop campaigning); set_commit forgets them.
    if (_transfer_to != no_node && !_config.contains(_transfer_to)) {
        _transfer_to = no_node;
    }
}

void raft_node::compacted(const raft::snapshot& snap) {
    TRIB_ASSERT_MSG(snap.last_offset <= _applied, "snapshot at {} past the applied offset {}",
                    snap.last_offset, _applied);
    _log.compacted(snap);
    std::erase_if(_configs, [&](const auto& c) { return c.first <= snap.last_offset; });
}

// ---- leader side ----

void raft_node::become_probe(progress& p, offset_t next) {
    p.state = progress::mode::probe;
    p.next = std::max(next, p.match + 1);
    p.probe_sent = false;
    p.inflight.clear();
    p.snapshot_elapsed = 0;
}

bool raft_node::send_append(node_id to, bool allow_empty) {
    progress& p = _progress.at(to);
    if (p.state == progress::mode::snapshot || (p.state == progress::mode::probe && p.probe_sent) ||
        (p.state == progress::mode::replicate && p.inflight.size() >= _opt.max_inflight_appends)) {
        return false;
    }
    if (p.next < _log.start_offset()) {
        send_snapshot(to, p);
        return true;
    }
    offset_t prev = p.next - 1;
    std::vector<entry> entries;
    if (p.next <= _log.last_offset()) {
        auto read = _log.entries(p.next, _log.last_offset(), _opt.max_append_bytes);
        if (!read) {
            return false;  // the next heartbeat answer tries again
        }
        entries = std::move(*read);
    }
    if (entries.empty() && !allow_empty) {
        return false;
    }
    if (!entries.empty()) {
        offset_t last = entries.back().last_offset;
        if (p.state == progress::mode::replicate) {
            p.next = last + 1;
            p.inflight.push_back(last);
        } else {
            p.probe_sent = true;
        }
    } else if (p.state == progress::mode::probe) {
        p.probe_sent = true;
    }
    send({.type = msg_type::append,
          .to = to,
          .term = _term,
          .prev_offset = prev,
          .prev_term = _log.term_at(prev),
          .entries = std::move(entries),
          .commit_offset = _commit},
         false);
    return true;
}

void raft_node::send_snapshot(node_id to, progress& p) {
    const raft::snapshot& snap = _log.snapshot();
    p.state = progress::mode::snapshot;
    p.snapshot_offset = snap.last_offset;
    p.snapshot_elapsed = 0;
    p.inflight.clear();
    send({.type = msg_type::snapshot, .to = to, .term = _term, .snap = snap}, false);
}

void raft_node::broadcast_append(bool allow_empty) {
    _pending_broadcast = false;
    for (auto& [peer, p] : _progress) {
        send_append(peer, allow_empty);
    }
}

void raft_node::broadcast_heartbeat() {
    for (auto& [peer, p] : _progress) {
        // Never more than the follower is known to hold: it may lack the rest.
        // prev_offset: the last offset sent to it so far, echoed in the answer, which tells
        // appends lost on the way from appends still on their way.
        send({.type = msg_type::heartbeat,
              .to = peer,
              .term = _term,
              .prev_offset = p.next - 1,
              .commit_offset = std::min(p.match, _commit)},
             false);
    }
}

offset_t raft_node::boundary_before(offset_t offset) const {
    if (offset <= _log.start_offset()) {
        return offset;  // below the log start only a snapshot helps (send_append sends it)
    }
    if (offset > _log.last_offset()) {
        return _log.last_offset() + 1;
    }
    auto pos = _log.position_of(offset);
    return pos ? pos->base_offset : -1;
}

void raft_node::handle_append_response(const message& m) {
    auto it = _progress.find(m.from);
    if (it == _progress.end()) {
        return;
    }
    progress& p = it->second;
    heard_from(p);
    if (!m.granted) {
        // Stale rejections (of appends sent before a repair started) change nothing.
        if (p.state == progress::mode::replicate ? m.prev_offset <= p.match
                                                 : m.prev_offset != p.next - 1) {
            return;
        }
        // Resume at the batch of ours that holds the offset after the follower's hint.
        offset_t hint = std::min(m.match_offset, m.prev_offset - 1);
        if (p.state == progress::mode::probe && hint < p.match) {
            // It refuses what it acknowledged before: it lost its log (a wiped or replaced
            // disk), so what it matches is only what it has now. Lowering a match is safe
            // (the commit offset never goes back); keeping it would probe at the old match
            // forever.
            p.match = std::max<offset_t>(hint, -1);
            ++_followers_lost_log;
            _last_follower_lost_log = m.from;
        }
        offset_t next = boundary_before(hint + 1);
        become_probe(p, next < 0 ? p.match + 1 : next);
        send_append(m.from, false);
        return;
    }
    if (m.match_offset > _log.last_offset()) {
        return;  // claims more than we ever sent: not from a correct follower of ours
    }
    if (m.match_offset > p.match) {
        p.match = m.match_offset;
    }
    heard_from(p);  // again: it may be caught up now
    std::erase_if(p.inflight, [&](offset_t o) { return o <= p.match; });
    if (p.state == progress::mode::probe ||
        (p.state == progress::mode::snapshot && p.match >= p.snapshot_offset)) {
        p.state = progress::mode::replicate;
        p.next = p.match + 1;
        p.inflight.clear();
        p.probe_sent = false;
    }
    if (maybe_commit()) {
        broadcast_append(true);  // tell everyone the new commit offset
        // The commit may have removed this follower (or us): `p` is not to be used.
        it = _progress.find(m.from);
        if (_role != raft::role::leader || it == _progress.end()) {
            return;
        }
    } else {
        while (send_append(m.from, false)) {
            if (p.state != progress::mode::replicate) {
                break;
            }
        }
    }
    if (_transfer_to == m.from && it->second.match == _log.last_offset()) {
        send({.type = msg_type::timeout_now, .to = m.from, .term = _term}, false);
    }
}

void raft_node::handle_heartbeat_response(const message& m) {
    auto it = _progress.find(m.from);
    if (it == _progress.end()) {
        return;
    }
    progress& p = it->second;
    heard_from(p);
    if (p.state == progress::mode::replicate && m.match_offset < m.prev_offset &&
        p.match < m.prev_offset) {
        // Appends sent before the heartbeat did not arrive before it: lost (or, where the
        // network reorders, slow — resending is harmless).
        become_probe(p, p.match + 1);
    }
    if (p.state != progress::mode::snapshot && m.match_offset < p.match) {
        // Less than it acknowledged: it lost its log (or this answer was overtaken by a later
        // acknowledgement). An append at its match tells which: it is refused only by a
        // follower without those entries (see handle_append_response).
        become_probe(p, p.match + 1);
        send_append(m.from, true);
    }
    if (p.state == progress::mode::replicate && p.inflight.size() >= _opt.max_inflight_appends) {
        // Acknowledgements may have been lost: let one more append go; its answer acknowledges
        // everything before it too.
        p.inflight.erase(p.inflight.begin());
    }
    if (p.state == progress::mode::probe) {
        p.probe_sent = false;
    }
    if (p.match < _log.last_offset()) {
        // Sent even without new entries: the answer says how far the follower matches, which
        // recovers a lost acknowledgement in a group that has gone quiet.
        send_append(m.from, true);
    }
}

bool raft_node::maybe_commit() {
    std::vector<offset_t> matches;
    for (node_id v : _config.voters) {
        if (v == _opt.id) {
            matches.push_back(_log.stable_offset());  // ours counts once it is durable
        } else {
            auto it = _progress.find(v);
            matches.push_back(it == _progress.end() ? -1 : it->second.match);
        }
    }
    if (matches.empty()) {
        return false;
    }
    std::sort(matches.begin(), matches.end(), std::greater<>());
    offset_t majority = matches[_config.quorum() - 1];
    // Only an entry of the current term commits by counting (Raft §5.4.2, Figure 8).
    if (majority <= _commit || _log.term_at(majority) != _term) {
        return false;
    }
    set_commit(majority);
    return true;
}

void raft_node::set_commit(offset_t commit) {
    if (commit <= _commit) {
        return;
    }
    TRIB_ASSERT_MSG(commit <= _log.last_offset(), "commit {} past the log end {}", commit,
                    _log.last_offset());
    _commit = commit;
    if (_role != raft::role::leader) {
        return;
    }
    auto done = std::find_if(_uncommitted.begin(), _uncommitted.end(),
                             [&](const auto& u) { return u.first > _commit; });
    for (auto i = _uncommitted.begin(); i != done; ++i) {
        _uncommitted_bytes -= i->second;
    }
    _uncommitted.erase(_uncommitted.begin(), done);
    if (_configs.empty() || _configs.back().first > _commit) {
        return;
    }
    for (auto it = _progress.begin(); it != _progress.end();) {
        if (_config.contains(it->first) || _learners.contains(it->first)) {
            ++it;
            continue;
        }
        // A last word to a removed follower: the commit offset, so one that holds its removal
        // knows it committed and stops campaigning.
        send({.type = msg_type::heartbeat,
              .to = it->first,
              .term = _term,
              .prev_offset = it->second.next - 1,
              .commit_offset = std::min(it->second.match, _commit)},
             false);
        it = _progress.erase(it);
    }
    // A leader the committed configuration leaves out hands over by stepping down, after
    // telling the others the new commit offset.
    if (!_config.contains(_opt.id)) {
        broadcast_append(true);
        become_follower(_term, no_node);
    }
}

// ---- follower side ----

void raft_node::handle_append(const message& m) {
    if (m.prev_offset < _commit) {
        // Everything through our commit offset matches the leader's already.
        reply(m, msg_type::append_response, true, _commit, true);
        return;
    }
    if (!_log.matches(m.prev_offset, m.prev_term)) {
        offset_t hint = _log.last_offset();
        if (m.prev_offset <= hint) {
            auto pos = _log.position_of(m.prev_offset);
            hint = pos ? pos->base_offset - 1 : _commit;
        }
        reply(m, msg_type::append_response, false, std::max(hint, _commit), false);
        return;
    }
    size_t fresh = 0;
    for (; fresh < m.entries.size(); ++fresh) {
        const entry& e = m.entries[fresh];
        if (e.last_offset > _log.last_offset() || !_log.matches(e.last_offset, e.term)) {
            break;
        }
    }
    if (fresh < m.entries.size()) {
        offset_t first = m.entries[fresh].base_offset;
        TRIB_ASSERT_MSG(first > _commit, "leader {} overwrites committed offset {} (commit {})",
                        m.from, first, _commit);
        std::vector<entry> rest(m.entries.begin() + static_cast<std::ptrdiff_t>(fresh),
                                m.entries.end());
        forget_configs_from(first);
        learn_configs(rest);
        _log.append(std::move(rest));
    }
    offset_t last_new = m.entries.empty() ? m.prev_offset : m.entries.back().last_offset;
    set_commit(std::min(m.commit_offset, last_new));
    reply(m, msg_type::append_response, true, last_new, true);
}

void raft_node::handle_heartbeat(const message& m) {
    set_commit(std::min(m.commit_offset, _log.last_offset()));
    send({.type = msg_type::heartbeat_response,
          .to = m.from,
          .term = _term,
          .prev_offset = m.prev_offset,
          .match_offset = _log.last_offset()},
         false);
}

void raft_node::handle_snapshot(const message& m) {
    TRIB_ASSERT_MSG(m.snap.has_value(), "a snapshot message without a snapshot");
    const raft::snapshot& snap = *m.snap;
    if (snap.last_offset <= _commit) {
        reply(m, msg_type::append_response, true, _commit, true);
        return;
    }
    if (_log.matches(snap.last_offset, snap.last_term)) {
        set_commit(snap.last_offset);  // we hold it already
        reply(m, msg_type::append_response, true, snap.last_offset, true);
        return;
    }
    _log.restore(snap);
    _configs.clear();
    apply_config_from_log();
    _commit = snap.last_offset;
    reply(m, msg_type::append_response, true, snap.last_offset, true);
}

// ---- the driver handshake ----

std::vector<message> raft_node::take_messages() {
    if (_pending_broadcast && _role == raft::role::leader) {
        broadcast_append(false);
    }
    _pending_broadcast = false;
    std::vector<message> out = std::move(_msgs);
    _msgs.clear();
    return out;
}

bool raft_node::has_ready() const {
    return _pending_broadcast || current_state() != _persisted_state ||
           _log.has_pending_snapshot() || _log.has_unhanded() || !_msgs.empty() ||
           !_msgs_after_persist.empty() ||
           std::min(_commit, _log.stable_offset()) > _reported_commit;
}

ready raft_node::take_ready() {
    ready rd;
    rd.messages = take_messages();
    hard_state now = current_state();
    if (now != _persisted_state) {
        rd.hard_state = now;
        _persisted_state = now;
    }
    rd.snapshot = _log.take_pending_snapshot();
    rd.entries = _log.take_unhanded();
    rd.messages_after_persist = std::move(_msgs_after_persist);
    _msgs_after_persist.clear();
    offset_t applicable = std::min(_commit, _log.stable_offset());
    if (rd.snapshot) {
        applicable = std::max(applicable, rd.snapshot->last_offset);
    }
    if (applicable > _reported_commit) {
        rd.commit_offset = applicable;
        _reported_commit = applicable;
    }
    return rd;
}

void raft_node::advance(const ready& rd) {
    _log.persisted(rd.entries);
    if (rejoining()) {
        // Safe to vote again once the log durably holds every entry this node may have
        // acknowledged and lost: all it held before (those offsets, from a leader), or a
        // committed entry of a later term than the loss (Log Matching puts every entry
        // committed before it, in this log, before it).
        offset_t durable = std::max(_log.stable_offset(), _log.snapshot().last_offset);
        offset_t known = std::min(_commit, durable);
        if (durable >= _lost_through ||
            (known >= _log.start_offset() - 1 && _log.term_at(known) > _lost_in_term)) {
            _lost_through = -1;
            _lost_in_term = 0;
        }
    }
    if (rd.commit_offset) {
        _applied = std::max(_applied, *rd.commit_offset);
    }
    if (_role == raft::role::leader && !rd.entries.empty() && maybe_commit()) {
        broadcast_append(true);
    }
}

}  // namespace trib::raft
