#include "sim/trace.h"

#include <fmt/format.h>

namespace trib::sim {

void trace::print(const std::string& line) const {
    fmt::print("{:>6} {}\n", _tick, line);
}

void sim_stats::add(const sim_stats& o) {
    seeds += o.seeds;
    ticks += o.ticks;
    elections += o.elections;
    transfers_requested += o.transfers_requested;
    transfers_completed += o.transfers_completed;
    member_changes_proposed += o.member_changes_proposed;
    member_changes_committed += o.member_changes_committed;
    snapshots_sent += o.snapshots_sent;
    snapshots_installed += o.snapshots_installed;
    compactions += o.compactions;
    images_compared += o.images_compared;
    crashes += o.crashes;
    repairs += o.repairs;
    repair_blocked += o.repair_blocked;
    pauses += o.pauses;
    partitions += o.partitions;
    truncations += o.truncations;
    proposals += o.proposals;
    acked += o.acked;
    messages += o.messages;
    dropped += o.dropped;
    duplicated += o.duplicated;
    violations += o.violations;
    liveness_failures += o.liveness_failures;
    determinism_mismatches += o.determinism_mismatches;
}

std::string sim_stats::summary() const {
    return fmt::format(
        "seeds {} ticks {} elections {} leader transfers {}/{} (completed/requested) config "
        "changes {}/{} (committed/proposed) snapshots sent {} installed {} compactions {} "
        "controller images compared {} crashes {} repairs {} (runs ending blocked by one {}) "
        "pauses {} partitions {} truncations {} proposals "
        "{} acked {} messages {} "
        "dropped {} duplicated {} invariant violations {} liveness failures {} determinism "
        "mismatches {}",
        seeds, ticks, elections, transfers_completed, transfers_requested, member_changes_committed,
        member_changes_proposed, snapshots_sent, snapshots_installed, compactions, images_compared,
        crashes, repairs, repair_blocked, pauses, partitions, truncations, proposals, acked,
        messages, dropped, duplicated, violations, liveness_failures, determinism_mismatches);
}

}  // namespace trib::sim
