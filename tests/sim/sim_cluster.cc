#include "sim/sim_cluster.h"

#include <algorithm>
#include <limits>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cluster/core/codec.h"
#include "model/crc32c.h"
#include "model/record_batch.h"

namespace trib::sim {

using raft::node_id;
using raft::offset_t;

namespace {

// Bounds the message/ready ping-pong within one tick (zero-delay messages and zero-latency
// fsyncs could otherwise go on); whatever is left runs next tick.
constexpr int max_rounds_per_tick = 32;
constexpr int max_readies_per_pump = 8;

const char* health_name(sim_node::health h) {
    switch (h) {
        case sim_node::health::up:
            return "up";
        case sim_node::health::crashed:
            return "crashed";
        case sim_node::health::paused:
            return "paused";
    }
    return "?";
}

}  // namespace

sim_cluster::sim_cluster(const sim_options& options, trace& tr, checker& check, sim_stats& stats)
    : _opt(options),
      _trace(tr),
      _check(check),
      _stats(stats),
      _network(options.seed, tr, stats),
      _rng(mix(options.seed, stream::disk)) {
    raft::configuration bootstrap;
    for (node_id id = 1; id <= options.voters; ++id) {
        bootstrap.voters.push_back(id);
    }
    int total = options.voters + options.spares;
    _nodes.resize(static_cast<size_t>(total));
    for (node_id id = 1; id <= total; ++id) {
        sim_node& n = node(id);
        n.id = id;
        n.options = {.id = id,
                     .election_ticks = options.election_ticks,
                     .heartbeat_ticks = options.heartbeat_ticks};
        // Spares join through membership changes, from an empty configuration.
        n.disk = std::make_unique<raft::memory_log>(id <= options.voters ? bootstrap
                                                                         : raft::configuration{});
        start(n);
    }
}

void sim_cluster::start(sim_node& n) {
    ++n.incarnation;
    n.options.seed = mix(_opt.seed, static_cast<uint64_t>(stream::node_base) +
                                        static_cast<uint64_t>(n.id) * 4096 +
                                        static_cast<uint64_t>(n.incarnation));
    n.raft = std::make_unique<raft::raft_node>(n.options, *n.disk, n.disk->state());
    n.state = sim_node::health::up;
    n.writing.reset();
    // The application restarts from the snapshot and re-applies what is committed after it.
    raft::snapshot snap = n.disk->snapshot();
    n.applied = snap.last_offset;
    n.applied_term = snap.last_term;
    n.applied_config = snap.config;
    restore_image(n, snap);
    n.seen_role = raft::role::follower;
    n.seen_term = n.raft->term();
    n.seen_commit = n.raft->commit_offset();
    n.synced = n.disk->state();
    n.proposals.clear();
    observe(n);
}

void sim_cluster::run_tick(int64_t now) {
    for (sim_node& n : _nodes) {
        if (n.state == sim_node::health::crashed && n.wake_at <= now) {
            restart(n.id);
        } else if (n.state == sim_node::health::paused && n.wake_at <= now) {
            resume(n.id);
        }
    }
    for (sim_node& n : _nodes) {
        if (n.is_up()) {
            n.raft->tick();
            observe(n);
        }
    }
    for (int round = 0; round < max_rounds_per_tick; ++round) {
        bool busy = false;
        for (sim_node& n : _nodes) {
            busy = pump(n, now) || busy;
        }
        std::vector<raft::message> due = _network.take_due(now);
        for (const raft::message& m : due) {
            deliver(m);
        }
        if (!busy && due.empty()) {
            break;
        }
    }
}

bool sim_cluster::pump(sim_node& n, int64_t now) {
    bool did = false;
    for (int i = 0; i < max_readies_per_pump && n.is_up(); ++i) {
        if (n.writing) {
            if (n.writing->durable_at > now) {
                // As the driver does: what may go at once does not wait for the sync.
                for (const raft::message& m : n.raft->take_messages()) {
                    _network.send(m, now);
                }
                break;
            }
            finish_write(n, now);
        } else if (n.raft->has_ready()) {
            begin_write(n, now);
        } else {
            break;
        }
        did = true;
    }
    return did;
}

void sim_cluster::begin_write(sim_node& n, int64_t now) {
    raft::ready rd = n.raft->take_ready();
    observe(n);
    _trace.record(
        event::ready,
        {n.id, rd.hard_state ? rd.hard_state->term : -1,
         rd.hard_state ? rd.hard_state->voted_for : -2, rd.snapshot ? rd.snapshot->last_offset : -2,
         static_cast<int64_t>(rd.entries.size()),
         rd.entries.empty() ? -1 : rd.entries.front().base_offset, rd.commit_offset.value_or(-2),
         static_cast<int64_t>(rd.messages.size()),
         static_cast<int64_t>(rd.messages_after_persist.size())},
        [&] {
            std::string s = fmt::format("n{} ready", n.id);
            if (rd.hard_state) {
                s += fmt::format(" hard=term {} vote {}", rd.hard_state->term,
                                 rd.hard_state->voted_for);
            }
            if (rd.snapshot) {
                s += fmt::format(" snapshot={}@{}", rd.snapshot->last_offset,
                                 rd.snapshot->last_term);
            }
            if (!rd.entries.empty()) {
                s += fmt::format(" entries=[{}..{}]x{} last_term={}",
                                 rd.entries.front().base_offset, rd.entries.back().last_offset,
                                 rd.entries.size(), rd.entries.back().term);
            }
            if (rd.commit_offset) {
                s += fmt::format(" commit={}", *rd.commit_offset);
            }
            return s +
                   fmt::format(" msgs={}+{}", rd.messages.size(), rd.messages_after_persist.size());
        });
    // A truncation of a divergent suffix: the first entry replaces one of another term.
    if (!rd.entries.empty() && rd.entries.front().base_offset <= n.disk->last_offset()) {
        auto old = n.disk->position_of(rd.entries.front().base_offset);
        if (old && old->term != rd.entries.front().term) {
            ++_stats.truncations;
        }
    }
    for (const raft::message& m : rd.messages) {
        _network.send(m, now);
    }
    n.disk->write(rd);
    _check.on_written(n.id, *n.disk, rd);
    if (rd.snapshot) {
        ++_stats.snapshots_installed;
    }
    int64_t latency = _rng.between(0, _opt.fsync_max_ticks);
    n.writing = sim_node::in_flight{.rd = std::move(rd), .durable_at = now + latency};
}

void sim_cluster::finish_write(sim_node& n, int64_t now) {
    raft::ready rd = std::move(n.writing->rd);
    n.writing.reset();
    n.disk->sync();
    n.synced = n.disk->state();
    for (const raft::message& m : rd.messages_after_persist) {
        _network.send(m, now);
    }
    if (rd.snapshot && rd.snapshot->last_offset > n.applied) {
        // The state machine restores the snapshot instead of applying what it covers.
        _check.on_snapshot_applied(n.id, *rd.snapshot);
        n.applied = rd.snapshot->last_offset;
        n.applied_term = rd.snapshot->last_term;
        n.applied_config = rd.snapshot->config;
        restore_image(n, *rd.snapshot);
        _trace.record(event::snapshot_install, {n.id, n.applied, n.applied_term}, [&] {
            return fmt::format("n{} restored snapshot {}@{}", n.id, n.applied, n.applied_term);
        });
    }
    if (rd.commit_offset) {
        apply(n, *rd.commit_offset);
    }
    n.raft->advance(rd);
    observe(n);
}

void sim_cluster::apply(sim_node& n, offset_t commit) {
    if (commit <= n.applied) {
        return;
    }
    auto got = n.disk->entries(n.applied + 1, commit, std::numeric_limits<size_t>::max());
    if (!got) {
        _check.fail(
            fmt::format("node {} reports commit {} but cannot read its log from {} "
                        "(log {}..{})",
                        n.id, commit, n.applied + 1, n.disk->snapshot().last_offset + 1,
                        n.disk->last_offset()));
        return;
    }
    for (const raft::entry& e : *got) {
        if (e.base_offset != n.applied + 1) {
            _check.fail(fmt::format("node {} would apply [{}..{}] after {}", n.id, e.base_offset,
                                    e.last_offset, n.applied));
            return;
        }
        bool first = _check.on_applied(n.id, e);
        if (e.kind == raft::entry_kind::config) {
            auto config = raft::config_of(e);
            if (!config) {
                _check.fail(fmt::format("node {} applied an unreadable config entry at {}", n.id,
                                        e.base_offset));
                return;
            }
            n.applied_config = *config;
            if (first) {
                ++_stats.member_changes_committed;
            }
        }
        apply_commands(n, e);
        n.applied = e.last_offset;
        n.applied_term = e.term;
        _trace.record(event::apply, {n.id, e.base_offset, e.term},
                      [&] { return fmt::format("n{} apply {}", n.id, describe(id_of(e))); });
        // Reported committed to the client: the entry this node accepted is still there.
        auto p = n.proposals.find(e.base_offset);
        if (p != n.proposals.end()) {
            entry_id eid = id_of(e);
            if (p->second.term == e.term && p->second.crc == eid.crc) {
                ++_stats.acked;
                _check.on_acked(eid);
                _trace.record(event::ack, {n.id, e.base_offset},
                              [&] { return fmt::format("n{} ack {}", n.id, describe(eid)); });
            }
        }
        n.proposals.erase(n.proposals.begin(), n.proposals.upper_bound(e.last_offset));
    }
    if (n.applied != commit) {
        _check.fail(fmt::format("node {} reports commit {} inside a batch (applied to {})", n.id,
                                commit, n.applied));
    }
}

void sim_cluster::restore_image(sim_node& n, const raft::snapshot& snap) {
    n.image = cluster::core::image{};
    if (snap.data) {
        auto img = cluster::core::decode_image(*snap.data);
        if (!img) {
            _check.fail(fmt::format("node {} cannot read its snapshot at {}: {}", n.id,
                                    snap.last_offset, img.error()));
            return;
        }
        n.image = std::move(*img);
    }
    n.image.applied_offset = snap.last_offset;
}

void sim_cluster::apply_commands(sim_node& n, const raft::entry& e) {
    if (e.kind == raft::entry_kind::data) {
        auto commands = cluster::core::commands_of_batch(e.bytes());
        if (!commands) {
            _check.fail(fmt::format("node {}: entry {} holds no command: {}", n.id, e.base_offset,
                                    commands.error()));
            return;
        }
        int64_t offset = e.base_offset;
        for (const auto& c : *commands) {
            (void)cluster::core::apply(n.image, c, offset++);
        }
    }
    n.image.applied_offset = e.last_offset;
    // Every node's metadata after the same entry must be the same, byte for byte.
    _check.on_image(n.id, e.last_offset, model::crc32c(cluster::core::encode_image(n.image)));
}

// A controller command that touches what earlier ones made (topics, brokers) and carries the
// proposal's unique number, so each batch is recognisable.
std::vector<uint8_t> sim_cluster::next_command_batch(int64_t now, std::string& described) {
    namespace core = cluster::core;
    uint64_t v = _next_value++;
    auto topic_id_of = [](uint64_t k) {
        core::topic_id id{};
        for (size_t i = 0; i < 8; ++i)
            id[i] = static_cast<uint8_t>(k >> (8 * i));
        id[15] = 0x7e;
        return id;
    };
    auto broker_of = [](uint64_t k) { return static_cast<core::node_id>(k % 4 + 1); };
    core::command cmd;
    switch (v % 6) {
        case 0: {
            core::topic t{.id = topic_id_of(v), .name = fmt::format("t{}", v)};
            t.partitions.push_back({broker_of(v)});
            cmd = core::create_topic{t};
            break;
        }
        case 1: {
            core::broker b{.id = broker_of(v), .incarnation = v};
            cmd = core::register_broker{b};
            break;
        }
        case 2:
            cmd = core::fence_broker{broker_of(v - 1), v - 1};
            break;
        case 3:
            cmd = core::delete_topic{topic_id_of(v - 9)};
            break;
        case 4:
            cmd =
                core::set_topic_configs{topic_id_of(v - 4), {{"retention.ms", std::to_string(v)}}};
            break;
        default:
            cmd = core::allocate_producer_ids{broker_of(v), static_cast<int32_t>(v % 1000 + 1)};
    }
    described = fmt::format("s{}-{} command {}", _opt.seed, v, v % 6);
    return core::command_batch(cmd, now_ms(now));
}

void sim_cluster::deliver(const raft::message& m) {
    int total = static_cast<int>(_nodes.size());
    if (m.to < 1 || m.to > total || !node(m.to).is_up()) {
        ++_stats.dropped;
        _trace.record(event::drop, {static_cast<int64_t>(m.type), m.from, m.to, 2},
                      [&] { return "unreachable " + describe(m); });
        return;
    }
    sim_node& n = node(m.to);
    _trace.record(event::deliver, {static_cast<int64_t>(m.type), m.from, m.to, m.term},
                  [&] { return "deliver " + describe(m); });
    n.raft->step(m);
    observe(n);
}

void sim_cluster::observe(sim_node& n) {
    raft::role role = n.raft->role();
    raft::term_t term = n.raft->term();
    if (term < n.seen_term) {
        _check.fail(fmt::format("node {} went back from term {} to {}", n.id, n.seen_term, term));
    }
    if (role != n.seen_role || term != n.seen_term) {
        _trace.record(event::role, {n.id, static_cast<int64_t>(role), term}, [&] {
            return fmt::format("n{} {} term {} (leader {})", n.id, raft::to_string(role), term,
                               n.raft->leader());
        });
        n.seen_role = role;
        n.seen_term = term;
        if (role == raft::role::leader) {
            ++_stats.elections;
            if (n.id == _transfer_to && term > _transfer_term) {
                ++_stats.transfers_completed;
            }
            _transfer_to = raft::no_node;
            _check.on_leader(n.id, *n.raft);
        }
    }
    offset_t commit = n.raft->commit_offset();
    if (commit < n.seen_commit) {
        _check.fail(
            fmt::format("node {} commit went back from {} to {}", n.id, n.seen_commit, commit));
    }
    n.seen_commit = commit;
}

void sim_cluster::crash(node_id id, int64_t restart_at) {
    sim_node& n = node(id);
    if (n.state == sim_node::health::crashed) {
        return;
    }
    bool tear = _rng.chance(_opt.tear_chance);
    uint64_t prefix_seed = _rng.next();
    bool had_unsynced = n.disk->has_unsynced();
    n.writing.reset();
    n.raft.reset();
    n.disk->crash(prefix_seed, tear);
    _check.on_recovered(id, n.synced, n.disk->state());
    int64_t damaged_from = -1;
    if (_rng.chance(_opt.damage_chance) && may_lose_entries(n)) {
        const auto& log = n.disk->all_entries();
        size_t first = _rng.below(log.size());
        damaged_from = log[first].base_offset;
        n.disk->repair_damage(first);
        n.synced = n.disk->state();
        ++_stats.repairs;
    }
    n.proposals.clear();
    n.state = sim_node::health::crashed;
    n.wake_at = restart_at;
    ++_stats.crashes;
    _trace.record(
        event::crash, {id, restart_at, tear ? 1 : 0, had_unsynced ? 1 : 0, damaged_from}, [&] {
            return fmt::format(
                "n{} CRASH until {} (unsynced writes {}, tear {}{}); disk now log {}..{} "
                "term {} vote {}",
                id, restart_at, had_unsynced, tear,
                damaged_from < 0 ? std::string()
                                 : fmt::format(", damage from {} dropped, lost through {}",
                                               damaged_from, n.disk->state().lost_through),
                n.disk->snapshot().last_offset + 1, n.disk->last_offset(), n.disk->state().term,
                n.disk->state().voted_for);
        });
}

bool sim_cluster::may_lose_entries(const sim_node& n) const {
    // As tributary does: a replica repairs only with peers to fetch from (a lone voter keeps
    // its damage). And one at a time: with two replicas that lost entries, a 3-voter group
    // has no safe majority left and rightly elects no one, which is no liveness bug.
    if (n.disk->all_entries().empty()) {
        return false;
    }
    auto configs = n.disk->configs();
    const raft::configuration& config =
        configs.empty() ? n.disk->snapshot().config : configs.back().second;
    if (config.voters.size() < 2 && config.contains(n.id)) {
        return false;
    }
    return std::none_of(_nodes.begin(), _nodes.end(), [&](const sim_node& o) {
        return o.id != n.id && o.disk->state().lost_through >= 0;
    });
}

bool sim_cluster::quorum_needs_a_rejoining_voter() const {
    auto rejoining = [&](const sim_node& n) { return n.disk->state().lost_through >= 0; };
    const sim_node* newest = nullptr;
    for (const sim_node& n : _nodes) {
        if (!n.is_up() || rejoining(n)) continue;
        auto key = [](const sim_node& x) {
            return std::pair(x.raft->log().last_term(), x.raft->log().last_offset());
        };
        if (newest == nullptr || key(n) > key(*newest)) newest = &n;
    }
    if (newest == nullptr) {
        return true;
    }
    const raft::configuration& config = newest->raft->config();
    size_t able = 0;
    for (node_id v : config.voters) {
        able += node(v).is_up() && !rejoining(node(v)) ? 1 : 0;
    }
    return std::any_of(_nodes.begin(), _nodes.end(), rejoining) && able < config.quorum();
}

void sim_cluster::restart(node_id id) {
    sim_node& n = node(id);
    if (n.state != sim_node::health::crashed) {
        return;
    }
    _trace.record(event::restart, {id}, [&] { return fmt::format("n{} restart", id); });
    start(n);
}

void sim_cluster::pause(node_id id, int64_t resume_at) {
    sim_node& n = node(id);
    if (!n.is_up()) {
        return;
    }
    n.state = sim_node::health::paused;
    n.wake_at = resume_at;
    ++_stats.pauses;
    _trace.record(event::pause, {id, resume_at},
                  [&] { return fmt::format("n{} paused until {}", id, resume_at); });
}

void sim_cluster::resume(node_id id) {
    sim_node& n = node(id);
    if (n.state != sim_node::health::paused) {
        return;
    }
    n.state = sim_node::health::up;
    _trace.record(event::resume, {id}, [&] { return fmt::format("n{} resumed", id); });
}

result<proposed> sim_cluster::propose(node_id id, int64_t now) {
    sim_node& n = node(id);
    if (!n.is_up()) {
        return unexpected(make_error_code(raft::errc::not_leader));
    }
    std::string value;
    std::vector<uint8_t> batch = next_command_batch(now, value);
    uint32_t crc = model::header_fields(batch).crc;
    raft::term_t term = n.raft->term();
    auto r = n.raft->propose(std::move(batch), now_ms(now));
    observe(n);
    _trace.record(event::propose, {id, r ? *r : -1, term}, [&] {
        return fmt::format("n{} propose {}: {}", id, value,
                           r ? fmt::format("offset {} term {}", *r, term) : r.error().message());
    });
    if (!r) {
        return unexpected(r.error());
    }
    ++_stats.proposals;
    n.proposals[*r] = {.term = term, .crc = crc};
    return proposed{.node = id, .base_offset = *r, .term = term, .crc = crc};
}

result<offset_t> sim_cluster::change_members(node_id leader, node_id target, bool add,
                                             int64_t now) {
    sim_node& n = node(leader);
    auto r =
        add ? n.raft->add_voter(target, now_ms(now)) : n.raft->remove_voter(target, now_ms(now));
    observe(n);
    _trace.record(event::member_change, {leader, target, add ? 1 : 0, r ? *r : -1}, [&] {
        return fmt::format("n{} {} voter {}: {}", leader, add ? "add" : "remove", target,
                           r ? fmt::format("config entry at {}", *r) : r.error().message());
    });
    if (r) {
        ++_stats.member_changes_proposed;
    }
    return r;
}

status sim_cluster::transfer(node_id leader, node_id to) {
    sim_node& n = node(leader);
    status r = n.raft->transfer_leadership(to);
    observe(n);
    _trace.record(event::transfer, {leader, to, r ? 1 : 0}, [&] {
        return fmt::format("n{} transfer leadership to n{}: {}", leader, to,
                           r ? std::string("started") : r.error().message());
    });
    if (r) {
        ++_stats.transfers_requested;
        _transfer_to = to;
        _transfer_term = n.raft->term();
    }
    return r;
}

void sim_cluster::compact(node_id id) {
    sim_node& n = node(id);
    // With a write in flight its sync would make that write durable early; skip instead.
    if (!n.is_up() || n.writing || n.applied <= n.disk->snapshot().last_offset ||
        n.raft->applied_offset() < n.applied) {
        return;
    }
    raft::snapshot snap{
        .last_offset = n.applied,
        .last_term = n.applied_term,
        .config = n.applied_config,
        .data = std::make_shared<const std::vector<uint8_t>>(cluster::core::encode_image(n.image))};
    n.disk->compact(snap);
    n.disk->sync();
    n.raft->compacted(snap);
    observe(n);
    ++_stats.compactions;
    _trace.record(event::compact, {id, snap.last_offset, snap.last_term}, [&] {
        return fmt::format("n{} compacted through {}@{} voters {}", id, snap.last_offset,
                           snap.last_term, fmt::join(snap.config.voters, ","));
    });
}

std::vector<node_id> sim_cluster::leaders() const {
    std::vector<node_id> out;
    for (const sim_node& n : _nodes) {
        if (n.is_up() && n.raft->role() == raft::role::leader) {
            out.push_back(n.id);
        }
    }
    return out;
}

node_id sim_cluster::leader() const {
    node_id best = raft::no_node;
    for (node_id id : leaders()) {
        if (best == raft::no_node || node(id).raft->term() > node(best).raft->term()) {
            best = id;
        }
    }
    return best;
}

void sim_cluster::check_logs() {
    std::vector<std::pair<node_id, const raft::memory_log*>> logs;
    for (const sim_node& n : _nodes) {
        logs.emplace_back(n.id, n.disk.get());
    }
    _check.compare_logs(logs);
}

void sim_cluster::check_acked_durable(const std::vector<node_id>& ids) {
    for (node_id id : ids) {
        // A crash that keeps no unsynced write leaves exactly the durable state.
        raft::memory_log durable = *node(id).disk;
        durable.crash(0, false);
        _check.check_acked_held(id, durable);
    }
}

std::string sim_cluster::describe_nodes() const {
    std::string out;
    for (const sim_node& n : _nodes) {
        out += fmt::format("\n  n{} {}", n.id, health_name(n.state));
        if (n.raft) {
            out += fmt::format(" {} term {} leader {} commit {} applied {} voters {}",
                               raft::to_string(n.raft->role()), n.raft->term(), n.raft->leader(),
                               n.raft->commit_offset(), n.applied,
                               fmt::join(n.raft->config().voters, ","));
        }
        out += fmt::format(" disk log {}..{} term {} vote {}", n.disk->snapshot().last_offset + 1,
                           n.disk->last_offset(), n.disk->state().term, n.disk->state().voted_for);
    }
    return out;
}

}  // namespace trib::sim
