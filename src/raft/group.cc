#include "raft/group.h"

#include <algorithm>
#include <chrono>

#include <asio/post.hpp>
#include <fmt/format.h>
#include <prometheus/counter.h>

#include "base/logging.h"
#include "base/metrics.h"
#include "storage/errc.h"
#include "storage/file.h"

namespace trib::raft {
namespace {

int64_t wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

group::group(group_id id, const raft_options& options, std::unique_ptr<log_store> store,
             storage::flusher& flusher, asio::io_context& loop, send_fn send, commit_fn on_commit)
    : group(id, options, std::move(store), flusher, loop, std::move(send),
            observer{.committed = std::move(on_commit)}) {}

group::group(group_id id, const raft_options& options, std::unique_ptr<log_store> store,
             storage::flusher& flusher, asio::io_context& loop, send_fn send, observer events)
    : _id(id),
      _store(std::move(store)),
      _node(options, *_store, _store->state()),
      _flusher(flusher),
      _send(std::move(send)),
      _events(std::move(events)) {
    _seen_rejoining = _node.rejoining();
    std::weak_ptr<bool> alive = _alive;
    _flusher.add(_store->data(), [this, alive, &loop] {
        // On a flusher thread: hop back to the group's loop (if the group still exists).
        asio::post(loop, [this, alive] {
            if (alive.lock()) {
                on_flushed();
            }
        });
    });
}

group::~group() {
    _alive.reset();
    _flusher.remove(_store->data().get());
}

void group::tick() {
    if (!_failed) {
        _node.tick();
    }
    if (_events.ticked) {
        _events.ticked();
    }
}

void group::step(const message& m) {
    if (!_failed) {
        _node.step(m);
    }
}

result<offset_t> group::propose(std::vector<uint8_t> batch) {
    if (_failed) {
        return unexpected(make_error_code(errc::not_leader));
    }
    // Refused here, not by every replica's log after it is replicated (which stops groups).
    if (batch.size() > _store->data()->config().max_batch_bytes) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    return _node.propose(std::move(batch), wall_clock_ms());
}

status group::compact(offset_t through, batch_bytes data) {
    if (_failed || through > _node.applied_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    auto snap = _store->compact(through, std::move(data));
    if (!snap) {
        return unexpected(snap.error());
    }
    _node.compacted(*snap);
    return {};
}

status group::move_log_start(offset_t new_start, batch_bytes data) {
    if (_failed || new_start - 1 > _node.applied_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    offset_t before = _store->snapshot().last_offset;
    auto snap = _store->move_start(new_start, std::move(data));
    if (!snap) {
        return unexpected(snap.error());
    }
    if (snap->last_offset > before) {
        _node.compacted(*snap);
    }
    return {};
}

void group::fail(const std::string& what, std::error_code ec) {
    // Fsyncgate: after a failed write or sync the page cache cannot be trusted; this group
    // stops answering (to its peers it is a crashed node) until the node restarts.
    log::get("raft")->error("group {}: {} failed: {}; the group stops", _id, what, ec.message());
    _failed = true;
    _in_flight.reset();
    if (_events.state_changed) {
        _events.state_changed();
    }
}

void group::count_state_change() {
    // Group 0 is the controller's; the rest are partitions (a label each, not a series per
    // group: thousands of partitions would be thousands of series).
    struct series {
        prometheus::Counter& won;
        prometheus::Counter& changes;
        prometheus::Counter& terms;
    };
    auto make = [](const char* kind) {
        metrics::labels l{{"kind", kind}};
        return series{
            metrics::counter("tributary_raft_leaderships_won_total",
                             "Raft groups of this node that became leader", l),
            metrics::counter("tributary_raft_leader_changes_total",
                             "Times a Raft group of this node saw its leader change (or go)", l),
            metrics::counter("tributary_raft_terms_total",
                             "New terms a Raft group of this node entered (elections)", l)};
    };
    static series controller = make("controller");
    static series partition = make("partition");
    series& s = _id == 0 ? controller : partition;
    if (_node.role() == role::leader && _seen_role != role::leader) s.won.Increment();
    if (_node.leader() != _seen_leader) s.changes.Increment();
    if (_node.term() != _seen_term) s.terms.Increment();
}

void group::notice_state() {
    if (_seen_rejoining && !_node.rejoining()) {
        _seen_rejoining = false;
        log::get("raft")->warn(
            "group {}: holds again every entry it may have acknowledged "
            "before its log was repaired; it votes and campaigns again",
            _id);
    }
    if (_node.followers_lost_log() != _seen_lost_logs) {
        _seen_lost_logs = _node.followers_lost_log();
        log::get("raft")->warn(
            "group {}: node {} no longer has entries it acknowledged (its disk was wiped or "
            "replaced); it is sent the log again from what it has",
            _id, _node.last_follower_lost_log());
    }
    if (_node.role() == _seen_role && _node.term() == _seen_term &&
        _node.leader() == _seen_leader) {
        return;
    }
    count_state_change();
    _seen_role = _node.role();
    _seen_term = _node.term();
    _seen_leader = _node.leader();
    if (_events.state_changed) {
        _events.state_changed();
    }
}

void group::pump() {
    if (_failed) {
        return;
    }
    notice_state();
    if (_in_flight) {
        // A sync is under way: appends to followers and heartbeats go now, so the followers'
        // syncs overlap ours instead of following it.
        for (const message& m : _node.take_messages()) {
            _send(_id, m);
        }
        // A slow disk here must not hold back answers a majority of followers already made
        // safe (the leader's own copy is not needed for the commit).
        if (_node.commit_offset() > _seen_commit) {
            _seen_commit = _node.commit_offset();
            if (_events.commit_learned) {
                _events.commit_learned();
            }
        }
        return;
    }
    if (!_node.has_ready()) {
        return;
    }
    _in_flight = _node.take_ready();
    if (_uses_space_reserve && !_in_flight->entries.empty() && storage::disk_full()) {
        // Metadata must still be written on a full disk, or space could never be freed.
        storage::release_space_reserve(fmt::format("to append to Raft group {}", _id));
    }
    for (const message& m : _in_flight->messages) {
        _send(_id, m);
    }
    if (auto st = _store->write(*_in_flight, wall_clock_ms()); !st) {
        fail("a write", st.error());
        return;
    }
    if (_events.written && (_in_flight->snapshot || !_in_flight->entries.empty())) {
        _events.written(*_in_flight);
    }
    if (_in_flight->entries.empty()) {
        finish();
        return;
    }
    _durable_needed = _in_flight->entries.back().last_offset;
    _flusher.request(_store->data().get());
}

void group::on_flushed() {
    if (!_in_flight || _in_flight->entries.empty()) {
        return;
    }
    if (_store->data()->failed()) {
        fail("a sync", make_error_code(storage::errc::io_error));
        return;
    }
    if (_store->data()->flushed_offset() > _durable_needed) {
        finish();
    }
    // else: that sync started before our write; the flusher runs another for it.
}

void group::finish() {
    ready rd = std::move(*_in_flight);
    _in_flight.reset();
    for (const message& m : rd.messages_after_persist) {
        _send(_id, m);
    }
    _node.advance(rd);
    if (rd.commit_offset && _events.committed) {
        _seen_commit = std::max(_seen_commit, *rd.commit_offset);  // told: no commit_learned
        _events.committed(*rd.commit_offset);
    }
    pump();
}

}  // namespace trib::raft
