#include "sim/simulation.h"

#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/checker.h"
#include "sim/schedule.h"
#include "sim/sim_cluster.h"

namespace trib::sim {

using raft::node_id;

namespace {

// The full pairwise log comparison is O(nodes² × log); every this many ticks is plenty
// next to the incremental checks.
constexpr int64_t full_check_every = 128;
// A healthy run sends under 100,000 messages; one that sends ten times that is livelocked
// in a message storm, and stopping it keeps the CI budget (a deterministic cut, unlike a
// wall-clock one, so the verdict replays).
constexpr uint64_t message_storm = 1'000'000;

class run {
  public:
    run(uint64_t seed, int64_t safety_ticks, bool verbose)
        : _options(draw_options(seed, safety_ticks)),
          _trace(verbose),
          _check(_trace, _stats),
          _cluster(_options, _trace, _check, _stats),
          _schedule(_options, _cluster, _trace, _stats) {
        _stats.seeds = 1;
        _cluster.network().set_conditions({.drop = _options.drop,
                                           .duplicate = _options.duplicate,
                                           .delay_mean = _options.delay_mean});
        if (verbose) {
            _trace.print("options " + _options.describe());
        }
    }

    run_result go() {
        run_result r;
        if (!safety_phase() || !liveness_phase()) {
            r.verdict = _check.failed() ? outcome::violation : outcome::liveness_failure;
            r.reason = _check.failed() ? _check.failure() : _liveness_failure;
            r.reason += "\n  options " + _options.describe() + _cluster.describe_nodes();
            if (r.verdict == outcome::liveness_failure) {
                ++_stats.liveness_failures;
            }
        }
        _stats.ticks = static_cast<uint64_t>(_now);
        r.stats = _stats;
        r.trace_hash = _trace.hash();
        if (_trace.verbose()) {
            _trace.print(fmt::format("end: {}", r.verdict == outcome::pass ? "pass" : "FAIL"));
        }
        return r;
    }

  private:
    bool safety_phase() {
        for (; _now < _options.safety_ticks; ++_now) {
            _trace.set_tick(_now);
            _schedule.before_tick(_now);
            _cluster.run_tick(_now);
            if (_now % full_check_every == full_check_every - 1) {
                _cluster.check_logs();
            }
            if (_check.failed() || storm()) {
                return false;
            }
        }
        return true;
    }

    bool storm() {
        if (_stats.messages <= message_storm) {
            return false;
        }
        _liveness_failure =
            fmt::format("tick {}: message storm, {} messages sent", _now, _stats.messages);
        return true;
    }

    bool liveness_phase() {
        _trace.set_tick(_now);
        _schedule.heal_all(_now);
        int64_t healed = _now;
        bool had_leader = false;
        std::optional<proposed> fresh;
        for (;; ++_now) {
            _trace.set_tick(_now);
            _cluster.run_tick(_now);
            if (_check.failed() || storm()) {
                return false;
            }
            int64_t elapsed = _now - healed;
            node_id leader = _cluster.leader();
            if (leader == raft::no_node) {
                if (!had_leader && elapsed >= _options.liveness_leader_ticks &&
                    _cluster.quorum_needs_a_rejoining_voter()) {
                    // Rightly stuck: a node that lost entries it acknowledged must not vote,
                    // and no quorum forms without it. Checked for safety, not liveness.
                    ++_stats.repair_blocked;
                    _trace.record(event::phase, {_now}, [&] {
                        return fmt::format("no quorum without a rejoining voter; final checks");
                    });
                    _cluster.check_logs();
                    return !_check.failed();
                }
                if (!had_leader && elapsed >= _options.liveness_leader_ticks) {
                    _liveness_failure =
                        fmt::format("tick {}: no leader within {} ticks of healing", _now, elapsed);
                    return false;
                }
            } else {
                had_leader = true;
                const raft::raft_node& l = *_cluster.node(leader).raft;
                // One fresh entry per leader term, until one makes it everywhere.
                if (!fresh || fresh->node != leader || fresh->term != l.term()) {
                    auto p = _cluster.propose(leader, _now);
                    if (p) {
                        fresh = *p;
                    }
                }
                if (fresh && applied_everywhere(*fresh, l.config())) {
                    return final_checks(l.config());
                }
            }
            if (elapsed >= _options.liveness_commit_ticks) {
                _liveness_failure = fmt::format(
                    "tick {}: {} ticks after healing, no fresh entry is applied on every voter "
                    "(leader {}, fresh entry {})",
                    _now, elapsed, leader,
                    fresh ? fmt::format("at {} term {} by n{}", fresh->base_offset, fresh->term,
                                        fresh->node)
                          : std::string("never accepted"));
                return false;
            }
        }
    }

    bool applied_everywhere(const proposed& p, const raft::configuration& config) {
        auto it = _check.committed().find(p.base_offset);
        if (it == _check.committed().end() || it->second.term != p.term ||
            it->second.crc != p.crc) {
            return false;
        }
        for (node_id v : config.voters) {
            const sim_node& n = _cluster.node(v);
            if (!n.is_up() || n.applied < p.base_offset) {
                return false;
            }
        }
        return true;
    }

    bool final_checks(const raft::configuration& config) {
        _trace.record(event::phase, {_now}, [&] {
            return fmt::format("fresh entry applied on voters {}; final checks",
                               fmt::join(config.voters, ","));
        });
        _cluster.check_logs();
        _cluster.check_acked_durable(config.voters);
        return !_check.failed();
    }

    sim_options _options;
    sim_stats _stats;
    trace _trace;
    checker _check;
    sim_cluster _cluster;
    schedule _schedule;
    int64_t _now = 0;
    std::string _liveness_failure;
};

}  // namespace

run_result run_seed(uint64_t seed, int64_t safety_ticks, bool verbose) {
    return run(seed, safety_ticks, verbose).go();
}

}  // namespace trib::sim
