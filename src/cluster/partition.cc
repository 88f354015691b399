#include "cluster/partition.h"

#include <prometheus/histogram.h>

#include "base/assert.h"
#include "base/big_endian.h"
#include "base/clock.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "model/record_batch.h"
#include "raft/host.h"
#include "storage/errc.h"

namespace trib::cluster {

namespace {

// DeleteRecords is an entry of the partition's Raft log, so every replica moves its start
// when it commits: a control batch of one record, key (version 0, type 200), value
// (version 0, the new start as a Raft offset). Like Raft's own batches, no client sees it.
constexpr int16_t log_start_type = 200;
constexpr size_t max_marker_bytes = 64;

std::vector<uint8_t> make_log_start_batch(int64_t raft_offset, int64_t now_ms) {
    std::vector<uint8_t> key(4, 0);
    big_endian::store(key.data() + 2, static_cast<uint16_t>(log_start_type), 2);
    std::vector<uint8_t> value(10, 0);
    big_endian::store(value.data() + 2, static_cast<uint64_t>(raft_offset), 8);
    model::record r{.timestamp = now_ms, .key = std::move(key), .value = std::move(value)};
    auto batch = model::build_batch({.control = true}, std::span(&r, 1));
    TRIB_ASSERT_MSG(batch.has_value(), "building a log-start batch failed");
    return std::move(*batch);
}

// The new start a log-start batch names, or nullopt for any other batch.
std::optional<int64_t> log_start_of(std::span<const uint8_t> batch) {
    auto h = model::parse_batch_header(batch);
    if (!h || !h->is_control() || h->producer_id >= 0) return std::nullopt;
    std::optional<int64_t> found;
    (void)model::for_each_record(batch, max_marker_bytes, [&](const model::record_view& r) {
        if (found || !r.key || r.key->size() != 4 || !r.value || r.value->size() != 10) return;
        if (static_cast<int16_t>(big_endian::load(r.key->data() + 2, 2)) != log_start_type) {
            return;
        }
        auto offset = static_cast<int64_t>(big_endian::load(r.value->data() + 2, 8));
        if (offset >= 0) found = offset;
    });
    return found;
}

}  // namespace

partition::partition(std::string topic, int32_t index, std::shared_ptr<storage::log> log,
                     const topic_settings& settings, raft_binding binding)
    : _topic(std::move(topic)),
      _index(index),
      _log(std::move(log)),
      _binding(std::move(binding)),
      _settings(settings),
      _in_sync(_binding.replicas),
      _committed_end(_log->start_offset()) {}

topic_settings partition::settings() const {
    std::lock_guard lock(_mutex);
    return _settings;
}

void partition::update_settings(const topic_settings& s) {
    _log->set_config(s.log);
    std::lock_guard lock(_mutex);
    _settings = s;
}

leadership partition::leader() const {
    std::lock_guard lock(_mutex);
    return _leadership;
}

std::vector<int32_t> partition::in_sync() const {
    std::lock_guard lock(_mutex);
    return _in_sync;
}

std::map<int32_t, int64_t> partition::replica_lag() const {
    std::lock_guard lock(_mutex);
    return _replica_lag;
}

int64_t partition::to_kafka(int64_t raft) const {
    std::lock_guard lock(_offsets_mutex);
    return _offsets.to_kafka(raft);
}

int64_t partition::high_watermark() const {
    return to_kafka(committed_end());
}

int64_t partition::log_start() const {
    return to_kafka(_log->start_offset());
}

int64_t partition::log_end() const {
    return to_kafka(_log->end_offset());
}

result<storage::read_result> partition::read(int64_t offset, size_t max_bytes,
                                             storage::first_batch first) const {
    int64_t raft_from = 0;
    {
        std::lock_guard lock(_offsets_mutex);
        raft_from = _offsets.to_raft(offset);
    }
    int64_t end = committed_end();
    if (raft_from >= end) {
        return storage::read_result{{}, offset};
    }
    auto got = TRIB_TRY(_log->read(raft_from, max_bytes, end, first));
    // Drop Raft's own batches, give the others their Kafka base offsets (outside the CRC).
    std::vector<uint8_t> out;
    out.reserve(got.data.size());
    std::span<uint8_t> rest(got.data);
    std::lock_guard lock(_offsets_mutex);
    while (rest.size() >= model::batch_header_size) {
        auto h = model::header_fields(rest);
        size_t size = h.size_bytes();
        if (size > rest.size()) break;
        if (!h.is_control()) {
            auto batch = rest.subspan(0, size);
            model::set_base_offset(batch, _offsets.to_kafka(h.base_offset));
            out.insert(out.end(), batch.begin(), batch.end());
        }
        rest = rest.subspan(size);
    }
    return storage::read_result{std::move(out), _offsets.to_kafka(got.next_offset)};
}

result<std::optional<storage::timestamp_offset>> partition::offset_for_timestamp(
    int64_t timestamp) const {
    auto found = TRIB_TRY(_log->offset_for_timestamp(timestamp));
    if (!found || found->offset >= committed_end()) {
        return std::optional<storage::timestamp_offset>{};
    }
    found->offset = to_kafka(found->offset);
    return found;
}

void partition::delete_records_before(int64_t offset, int64_t deadline_ms, done_fn done) {
    _binding.post(
        [self = shared_from_this(), offset, deadline_ms, done = std::move(done)]() mutable {
            int64_t raft = 0;
            {
                std::lock_guard lock(self->_offsets_mutex);
                raft = std::min(self->_offsets.to_raft(offset), self->committed_end());
            }
            if (raft <= self->_log->start_offset()) {
                done({});  // never backwards
                return;
            }
            replicate_request move{
                .acks = acks_level::all, .deadline_ms = deadline_ms, .now_ms = wall_clock_ms()};
            move.batches.push_back(make_log_start_batch(raft, move.now_ms));
            // Committed means applied here: on_committed moves the start before it answers.
            self->run(std::move(move), std::move(done));
        });
}

void partition::set_in_sync(std::vector<int32_t> isr) {
    std::lock_guard lock(_mutex);
    if (!_leadership.local) {
        _in_sync = std::move(isr);
    }
}

void partition::add_waiter(const std::shared_ptr<net::async_event>& event) {
    std::lock_guard lock(_mutex);
    // An idle partition is never woken, so waiters of long polls that ended elsewhere pile
    // up: drop the dead ones whenever the list doubles.
    if (_waiters.size() >= _prune_at) {
        std::erase_if(_waiters, [](const auto& w) { return w.expired(); });
        _prune_at = std::max<size_t>(64, _waiters.size() * 2);
    }
    _waiters.push_back(event);
}

void partition::wake_waiters() {
    std::vector<std::weak_ptr<net::async_event>> woken;
    {
        std::lock_guard lock(_mutex);
        woken.swap(_waiters);
    }
    for (auto& w : woken) {
        if (auto e = w.lock()) e->signal();
    }
}

void partition::replicate(replicate_request request, done_fn done) {
    _binding.post(
        [self = shared_from_this(), request = std::move(request),
         done = std::move(done)]() mutable { self->run(std::move(request), std::move(done)); });
}

void partition::end_of_epoch(int64_t epoch, std::function<void(int64_t, int64_t)> done) {
    _binding.post([self = shared_from_this(), epoch, done = std::move(done)] {
        raft::group* g = self->find_group();
        if (g == nullptr || epoch < 0) {
            done(-1, -1);
            return;
        }
        // As Kafka's leader epoch cache answers: the newest epoch at or below `epoch` and
        // where the next epoch starts (the log's end for the latest one).
        const auto& starts = g->store().term_starts();
        raft::snapshot snap = g->store().snapshot();
        int64_t log_end = g->node().log().last_offset() + 1;
        int64_t latest = starts.empty() ? snap.last_term : starts.back().second;
        if (epoch == latest) {
            done(latest, self->to_kafka(log_end));
            return;
        }
        int64_t floor = snap.last_offset >= 0 && snap.last_term <= epoch ? snap.last_term : -1;
        for (const auto& [start, term] : starts) {
            if (term > epoch) {
                done(floor < 0 ? epoch : floor, self->to_kafka(start));
                return;
            }
            floor = term;
        }
        done(-1, -1);  // newer than any epoch here
    });
}

// ---- on the Raft loop ----

raft::group* partition::find_group() const {
    return _closed ? nullptr : _binding.host->find(_binding.group);
}

raft::group::observer partition::observer() {
    std::weak_ptr<partition> weak = weak_from_this();
    return {.committed =
                [weak](raft::offset_t commit) {
                    if (auto p = weak.lock()) p->on_committed(commit);
                },
            .written =
                [weak](const raft::ready& rd) {
                    if (auto p = weak.lock()) p->on_written(rd);
                },
            .state_changed =
                [weak] {
                    if (auto p = weak.lock()) p->on_state_changed();
                },
            .ticked =
                [weak] {
                    if (auto p = weak.lock()) p->on_tick();
                },
            .commit_learned =
                [weak] {
                    if (auto p = weak.lock()) p->on_commit_learned();
                }};
}

status partition::rebuild(const raft::snapshot& snap, int64_t now_ms) {
    int64_t start = snap.last_offset + 1;
    snapshot_payload payload;
    if (snap.data && !snap.data->empty()) {
        auto decoded = offset_translator::decode_snapshot(*snap.data);
        if (!decoded) return unexpected(make_error_code(storage::errc::corrupt_data));
        payload = *decoded;
    }
    offset_translator offsets;
    offsets.reset(start, payload.internal_below);
    _start_moves.clear();
    if (payload.log_start > _log->start_offset()) {
        _start_moves.emplace_back(snap.last_offset, payload.log_start);
    }
    std::vector<model::batch_header> controls;
    TRIB_TRY(_log->for_each_batch_header([&](const model::batch_header& h) {
        if (h.is_control() && h.base_offset >= start) {
            offsets.add_internal(h.base_offset, h.last_offset());
            controls.push_back(h);
        }
    }));
    // Log-start moves not yet applied here wait for their commit again (applying twice is
    // harmless: the start only goes forward).
    for (const auto& h : controls) {
        auto got = _log->read(std::max(h.base_offset, _log->start_offset()), h.size_bytes(),
                              h.last_offset() + 1);
        if (!got) return unexpected(got.error());
        if (auto target = log_start_of(got->data); target && *target > _log->start_offset()) {
            _start_moves.emplace_back(h.base_offset, *target);
        }
    }
    {
        std::lock_guard lock(_offsets_mutex);
        _offsets = std::move(offsets);
    }
    return rebuild_producers(INT64_MAX, now_ms);
}

status partition::rebuild_producers(int64_t below_offset, int64_t now_ms) {
    producer_state rebuilt;
    TRIB_TRY(_log->for_each_batch_header([&](const model::batch_header& h) {
        if (h.base_offset < below_offset && h.producer_id >= 0 && !h.is_control()) {
            rebuilt.record(h, h.base_offset, h.last_offset(), h.max_timestamp);
        }
    }));
    rebuilt.expire(now_ms);
    _producers = std::move(rebuilt);
    _producers_through = below_offset - 1;
    return {};
}

void partition::apply_to_producers(const raft::entry& e) {
    _producers_through = e.last_offset;
    if (e.kind != raft::entry_kind::data) return;
    auto h = model::parse_batch_header(e.bytes());
    if (h && h->producer_id >= 0 && !h->is_control()) {
        _producers.record(*h, e.base_offset, e.last_offset, h->max_timestamp);
    }
}

bool partition::quorum_reachable(const raft::raft_node& node) const {
    // Voters heard from within an election timeout: without a majority of them nothing
    // commits, and the leader steps down soon (check-quorum).
    size_t reachable = 1;
    uint64_t window = static_cast<uint64_t>(std::max(1, _binding.election_ticks));
    for (const auto& peer : node.peers()) {
        if (peer.voter && peer.ticks_since_heard <= window) ++reachable;
    }
    return reachable >= node.config().quorum();
}

void partition::run(replicate_request request, done_fn done) {
    raft::group* g = find_group();
    if (g == nullptr) {
        done({.code = replicate_errc::not_leader});
        return;
    }
    if (g->failed() || _log->failed()) {
        done({.code = replicate_errc::storage_error});
        return;
    }
    const auto& node = g->node();
    if (node.role() != raft::role::leader) {
        done({.code = replicate_errc::not_leader});
        return;
    }
    if (!node.leader_ready() || !_parked.empty()) {
        // Until our term's first entry commits we do not know the whole committed log, nor
        // every producer's state: serving now could duplicate (CLUSTER_PROTOCOL.md). Once
        // ready, what was parked goes first: an idempotent producer's batches keep order.
        _parked.push_back({std::move(request), std::move(done)});
        return;
    }
    if (request.acks == acks_level::all) {
        if (static_cast<int32_t>(in_sync().size()) < request.min_insync ||
            !quorum_reachable(node)) {
            for (const auto& batch : request.batches) {
                auto h = model::parse_batch_header(batch);
                if (h && h->producer_id >= 0 && !_refused.contains(h->producer_id)) {
                    _refused[h->producer_id] = {h->producer_epoch, h->base_sequence,
                                                replicate_errc::not_enough_replicas};
                }
            }
            done({.code = replicate_errc::not_enough_replicas});
            return;
        }
    }
    replicate_result result;
    int64_t wait_for = -1;
    for (size_t i = 0; i < request.batches.size(); ++i) {
        auto& batch = request.batches[i];
        auto h = model::parse_batch_header(batch);
        TRIB_ASSERT(h.has_value());  // validated by the handler
        int64_t base = -1;
        int64_t last = -1;
        if (h->producer_id >= 0) {
            auto check = _producers.check(*h);
            if (check.verdict == sequence_verdict::duplicate) {
                // A retry: answered with the original's offsets once that one commits.
                base = check.base_offset;
                last = check.last_offset;
            } else if (auto r = _refused.find(h->producer_id);
                       check.verdict == sequence_verdict::out_of_order && r != _refused.end() &&
                       r->second.epoch == h->producer_epoch &&
                       h->base_sequence > r->second.base_sequence) {
                // Behind a batch refused unwritten: refused alike, so the client retries both
                // in order.
                result.code = r->second.code;
                break;
            } else if (check.verdict != sequence_verdict::append) {
                log::get("cluster")->debug(
                    "{}-{}: refused producer {} epoch {} sequence {}..{}: {}", _topic, _index,
                    h->producer_id, h->producer_epoch, h->base_sequence, last_sequence_of(*h),
                    check.verdict == sequence_verdict::out_of_order    ? "out of order"
                    : check.verdict == sequence_verdict::invalid_epoch ? "stale epoch"
                                                                       : "unknown producer");
                result = {.code = replicate_errc::sequence, .verdict = check.verdict};
                break;
            }
        }
        if (base < 0) {
            auto accepted = g->propose(std::move(batch));
            if (!accepted) {
                auto ec = accepted.error();
                result.code = ec == raft::errc::invalid_batch ? replicate_errc::invalid_batch
                              : ec == raft::errc::too_much_uncommitted
                                  ? replicate_errc::not_enough_replicas
                                  : replicate_errc::not_leader;
                if (h->producer_id >= 0 && result.code != replicate_errc::invalid_batch) {
                    _refused[h->producer_id] = {h->producer_epoch, h->base_sequence, result.code};
                }
                break;
            }
            if (h->producer_id >= 0) _refused.erase(h->producer_id);
            base = *accepted;
            last = base + h->last_offset_delta;
            if (h->producer_id >= 0) {
                _producers.record(*h, base, last, request.now_ms);
            }
            _producers_through = last;
            _proposed.push_back({base, node.term()});
        }
        if (i == 0) result.base_offset = base;
        result.last_offset = std::max(result.last_offset, last);
        wait_for = std::max(wait_for, last);
    }
    g->pump();
    if (result.code != replicate_errc::none) {
        result.base_offset = result.last_offset = -1;  // an error answer names no offset
        done(result);
        return;
    }
    if (request.acks == acks_level::none) {
        done(result);  // nobody reads the offsets
        return;
    }
    // The term of the entry awaited: ours, or a retried original's.
    int64_t term = wait_for >= node.log().start_offset() - 1 ? node.log().term_at(wait_for) : 0;
    _waiting.emplace(wait_for, waiter{.last_offset = wait_for,
                                      .term = term,
                                      .acks = request.acks,
                                      .deadline_ms = request.deadline_ms,
                                      .started = std::chrono::steady_clock::now(),
                                      .result = result,
                                      .done = std::move(done)});
    settle_waiters(*g, steady_clock_ms());
}

namespace {

// From the append to the answer's condition: committed on a majority (acks=all), or written
// on the leader (acks=1).
void record_replication(acks_level acks, std::chrono::steady_clock::duration took) {
    static prometheus::Histogram& all =
        metrics::histogram("tributary_replication_duration_seconds",
                           "From a produce's append on the leader to its acks condition",
                           metrics::latency_buckets(), {{"acks", "all"}});
    static prometheus::Histogram& leader =
        metrics::histogram("tributary_replication_duration_seconds",
                           "From a produce's append on the leader to its acks condition",
                           metrics::latency_buckets(), {{"acks", "1"}});
    (acks == acks_level::all ? all : leader).Observe(std::chrono::duration<double>(took).count());
}

}  // namespace

void partition::settle_waiters(raft::group& g, int64_t now_ms) {
    const auto& node = g.node();
    int64_t commit = node.commit_offset();
    int64_t written = g.store().last_offset();
    const auto& view = node.log();
    // A write whose leader stepped down is settled by what the next leader does with it, as
    // this replica learns it: committed (success), replaced (NOT_LEADER: it was never
    // persisted) or, after the grace, unknown (REQUEST_TIMED_OUT: it may still commit). A
    // NOT_LEADER for a write that later commits is a lie clients act on: librdkafka takes it
    // as "not persisted" and, should it bump its epoch meanwhile, writes the records again.
    int64_t grace_ms = int64_t{2} * _binding.election_ticks * _binding.tick_ms;
    for (auto it = _waiting.begin(); it != _waiting.end();) {
        waiter& w = it->second;
        bool below_start = w.last_offset < view.start_offset() - 1;  // committed, compacted
        bool replaced = !below_start && (w.last_offset > view.last_offset() ||
                                         view.term_at(w.last_offset) != w.term);
        bool reached =
            w.last_offset <= commit || (w.acks == acks_level::leader && w.last_offset <= written);
        if (replaced) {
            log::get("cluster")->debug("{}-{}: offset {} of term {} was replaced: NOT_LEADER",
                                       _topic, _index, w.last_offset, w.term);
            w.done({.code = replicate_errc::not_leader});
        } else if (reached) {
            replicate_result r = w.result;
            r.base_offset = to_kafka(r.base_offset);
            r.last_offset = to_kafka(r.last_offset);
            record_replication(w.acks, std::chrono::steady_clock::now() - w.started);
            w.done(r);
        } else if (now_ms >= w.deadline_ms ||
                   (w.orphaned_ms >= 0 && now_ms >= w.orphaned_ms + grace_ms)) {
            log::get("cluster")->debug("{}-{}: offset {} not known committed in time: TIMED_OUT",
                                       _topic, _index, w.last_offset);
            w.done({.code = replicate_errc::timed_out});
        } else {
            ++it;
            continue;
        }
        it = _waiting.erase(it);
    }
}

void partition::release_parked(int64_t now_ms) {
    std::vector<parked> ready;
    ready.swap(_parked);
    for (auto& p : ready) {
        if (now_ms >= p.request.deadline_ms) {
            p.done({.code = replicate_errc::not_leader});
        } else {
            run(std::move(p.request), std::move(p.done));
        }
    }
}

void partition::on_committed(int64_t commit) {
    int64_t end = commit + 1;
    if (end > _committed_end.load(std::memory_order_relaxed)) {
        _committed_end.store(end, std::memory_order_release);
        wake_waiters();
    }
    raft::group* g = find_group();
    if (g == nullptr) return;
    apply_start_moves(*g);
    settle_waiters(*g, steady_clock_ms());
    publish_leadership(*g);  // the leader may be ready now
    if (g->node().leader_ready() && !_parked.empty()) {
        release_parked(steady_clock_ms());
    }
}

void partition::on_commit_learned() {
    if (raft::group* g = find_group()) settle_waiters(*g, steady_clock_ms());
}

void partition::on_written(const raft::ready& rd) {
    if (rd.snapshot) {
        // The log restarts after the snapshot: producers before it are not known here.
        _producers = producer_state{};
        _proposed.clear();
        _producers_through = rd.snapshot->last_offset;
        snapshot_payload payload;
        if (rd.snapshot->data) {
            payload = offset_translator::decode_snapshot(*rd.snapshot->data).value_or(payload);
        }
        // The leader's log started past the point (DeleteRecords inside the next entry):
        // so does ours, once that entry is here.
        _start_moves.clear();
        if (payload.log_start > rd.snapshot->last_offset + 1) {
            _start_moves.emplace_back(rd.snapshot->last_offset, payload.log_start);
        }
        log::get("cluster")->info(
            "{}-{}: installed the leader's snapshot through Raft offset {} (the leader's log no "
            "longer holds what this replica lacked)",
            _topic, _index, rd.snapshot->last_offset);
        std::lock_guard lock(_offsets_mutex);
        _offsets.reset(rd.snapshot->last_offset + 1, payload.internal_below);
    }
    if (!rd.entries.empty()) {
        int64_t from = rd.entries.front().base_offset;
        std::erase_if(_start_moves, [&](const auto& m) { return m.first >= from; });
        std::lock_guard lock(_offsets_mutex);
        _offsets.truncate(from);
        for (const raft::entry& e : rd.entries) {
            // Raft's batches and ours (log-start moves) are internal: every control batch.
            // Only those are looked into; client batches pass on their header alone.
            if (e.kind != raft::entry_kind::data) {
                _offsets.add_internal(e.base_offset, e.last_offset);
            } else if (model::header_fields(e.bytes()).is_control()) {
                _offsets.add_internal(e.base_offset, e.last_offset);
                if (auto target = log_start_of(e.bytes()))
                    _start_moves.emplace_back(e.base_offset, *target);
            }
        }
    }
    for (const raft::entry& e : rd.entries) {
        if (!_proposed.empty() && _proposed.front().base_offset == e.base_offset &&
            _proposed.front().term == e.term) {
            _proposed.pop_front();  // our own proposal, applied when proposed
            continue;
        }
        if (e.base_offset <= _producers_through) {
            // A new leader replaced a suffix this replica had: what it had seen of it goes.
            _proposed.clear();
            if (auto st = rebuild_producers(e.base_offset, wall_clock_ms()); !st) {
                _producers = producer_state{};
            }
        }
        apply_to_producers(e);
    }
    if (raft::group* g = find_group()) settle_waiters(*g, steady_clock_ms());
}

void partition::publish_leadership(const raft::group& g) {
    const auto& node = g.node();
    leadership now{.leader = node.leader(),
                   .epoch = node.leader() >= 0 ? node.term() : -1,
                   .local = node.role() == raft::role::leader,
                   .ready = node.leader_ready()};
    if ((g.failed() || _log->failed()) && _binding.replicas.size() > 1) {
        // A stopped group still holds its last role: as "leader" it would serve Fetch from a
        // log the new leader has moved past (OFFSET_OUT_OF_RANGE: consumers reset) and its
        // group coordinator would answer from memory. It leads nothing and knows no leader.
        // A lone replica stays: no one else can lead, and its intact data stays readable
        // (a damaged range is kept out of service until salvaged; writes fail).
        now = leadership{};
    }
    bool changed = false;
    leadership before;
    {
        std::lock_guard lock(_mutex);
        before = _leadership;
        changed = now.leader != _leadership.leader || now.epoch != _leadership.epoch ||
                  now.ready != _leadership.ready;
        _leadership = now;
    }
    if (!changed) return;
    // What an operator follows a failover by: this node starts or stops serving the partition.
    if (now.ready && !before.ready) {
        log::get("cluster")->info("leading {}-{} in term {}", _topic, _index, now.epoch);
    } else if (before.ready && !now.local) {
        log::get("cluster")->info("no longer leading {}-{} (term {}, leader {})", _topic, _index,
                                  node.term(), now.leader);
    }
    if (_leadership_listener) _leadership_listener(*this);
}

void partition::on_state_changed() {
    raft::group* g = find_group();
    if (g == nullptr) return;
    const auto& node = g->node();
    publish_leadership(*g);
    _refused.clear();  // a new role: what was refused is retried from scratch
    if (node.role() != raft::role::leader || g->failed()) {
        auto code = g->failed() ? replicate_errc::storage_error : replicate_errc::not_leader;
        std::vector<parked> dropped;
        dropped.swap(_parked);
        for (auto& p : dropped)
            p.done({.code = code});
        // Writes awaiting commit are settled by what the next leader does with them (see
        // settle_waiters), within a grace, not at their timeout: their client may hold more
        // requests behind them (an idempotent producer keeps its order), so waiting for the
        // timeout would stall the partition for the client long after a new leader serves.
        int64_t now = steady_clock_ms();
        if (node.role() != raft::role::leader) {
            for (auto& [offset, w] : _waiting) {
                if (w.orphaned_ms < 0) w.orphaned_ms = now;
            }
        }
        settle_waiters(*g, now);
        if (g->failed()) {
            // This replica learns nothing more, but what it appended may be on the others
            // and commit there: "possibly persisted" (REQUEST_TIMED_OUT), never
            // KAFKA_STORAGE_ERROR, which librdkafka takes as "not persisted" and, after an
            // epoch bump, writes again.
            for (auto& [offset, w] : _waiting)
                w.done({.code = replicate_errc::timed_out});
            _waiting.clear();
        }
    } else if (node.leader_ready()) {
        release_parked(steady_clock_ms());
    }
}

void partition::on_tick() {
    raft::group* g = find_group();
    if (g == nullptr) return;
    int64_t now = steady_clock_ms();
    settle_waiters(*g, now);
    follow_log_start(*g);
    std::erase_if(_parked, [&](parked& p) {
        if (now < p.request.deadline_ms) return false;
        p.done({.code = replicate_errc::not_leader});
        return true;
    });
    if (g->node().leader_ready() && !_parked.empty()) release_parked(now);
    auto& node = g->node();
    auto peers = node.peers();  // empty unless leader
    drive_move(node, peers);
    if (_prefer_soon_ticks > 0) --_prefer_soon_ticks;
    if (node.role() != raft::role::leader) {
        _prefer_soon_ticks = 0;  // the leader it was asked of no longer: a later one decides
        if (_ticks_leading > 0) {
            std::lock_guard lock(_mutex);
            _replica_lag.clear();
        }
        _ticks_leading = 0;
        return;
    }
    ++_ticks_leading;
    // In sync: caught up with the whole log within replica.lag.time.max.ms.
    uint64_t lag_ticks = static_cast<uint64_t>(
        std::max<int64_t>(1, _binding.replica_lag_max_ms / std::max(1, _binding.tick_ms)));
    std::map<int32_t, int64_t> lag;
    for (const auto& p : peers) {
        if (p.voter) lag[p.id] = std::max<int64_t>(0, node.log().last_offset() - p.match);
    }
    std::vector<int32_t> isr;
    for (int32_t r : _binding.replicas) {
        if (r == _binding.self) {
            isr.push_back(r);
            continue;
        }
        for (const auto& p : peers) {
            if (p.id == r && p.voter && p.ticks_since_caught_up <= lag_ticks) isr.push_back(r);
        }
    }
    prefer_leader(node, peers);
    bool changed = false;
    {
        std::lock_guard lock(_mutex);
        changed = isr != _in_sync;
        _in_sync = std::move(isr);
        _replica_lag = std::move(lag);
    }
    if (changed && _leadership_listener) _leadership_listener(*this);
}

raft::batch_bytes partition::snapshot_data(const raft::group& g, int64_t new_start) const {
    int64_t point = g.store().batch_start_of(new_start);
    std::lock_guard lock(_offsets_mutex);
    return std::make_shared<const std::vector<uint8_t>>(offset_translator::encode_snapshot(
        {.internal_below = _offsets.internal_below(point), .log_start = new_start}));
}

void partition::move_start(raft::group& g, int64_t new_start) {
    if (new_start <= _log->start_offset()) return;
    if (auto st = g.move_log_start(new_start, snapshot_data(g, new_start)); !st) {
        log::get("cluster")->warn("{}-{}: cannot move the log start to {}: {}", _topic, _index,
                                  new_start, st.error().message());
        return;
    }
    _producers.forget_before(_log->start_offset());
}

void partition::apply_start_moves(raft::group& g) {
    int64_t commit = g.node().commit_offset();
    int64_t end = g.store().last_offset() + 1;
    while (!_start_moves.empty()) {
        auto [after, target] = _start_moves.front();
        // Once committed, and once the log holds what it keeps (after a snapshot install the
        // entries come later).
        if (after > commit || target > end || target - 1 > g.node().applied_offset()) break;
        move_start(g, target);
        _start_moves.pop_front();
    }
}

void partition::retain_from(int64_t raft_offset) {
    int64_t seen = _retention_start.load(std::memory_order_relaxed);
    while (raft_offset > seen && !_retention_start.compare_exchange_weak(seen, raft_offset)) {
    }
}

void partition::follow_log_start(raft::group& g) {
    apply_start_moves(g);
    // Only once this replica has applied all it deletes (a follower's uncommitted entries
    // stay); until then a later tick tries again.
    int64_t due = _retention_start.load(std::memory_order_relaxed);
    int64_t before = _log->start_offset();
    if (due <= before || due - 1 > g.node().applied_offset()) return;
    move_start(g, due);
    if (_log->start_offset() > before) {
        log::get("cluster")->info("{}-{}: retention moved the log start from {} to {}", _topic,
                                  _index, before, _log->start_offset());
    }
}

void partition::close() {
    _closed = true;
    std::vector<parked> dropped;
    dropped.swap(_parked);
    for (auto& p : dropped)
        p.done({.code = replicate_errc::not_leader});
    for (auto& [offset, w] : _waiting) {
        w.done({.code = replicate_errc::timed_out});
    }
    _waiting.clear();
    {
        std::lock_guard lock(_mutex);
        _leadership = {};
    }
    wake_waiters();
}

}  // namespace trib::cluster
