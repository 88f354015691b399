#include "sim/checker.h"

#include <algorithm>

#include <fmt/format.h>

#include "model/record_batch.h"

namespace trib::sim {

using raft::node_id;
using raft::offset_t;

entry_id id_of(const raft::entry& e) {
    return {.base_offset = e.base_offset,
            .last_offset = e.last_offset,
            .term = e.term,
            .crc = model::header_fields(e.bytes()).crc,
            .size = e.size()};
}

std::string describe(const entry_id& e) {
    return fmt::format("[{}..{}]@{} crc={:08x} size={}", e.base_offset, e.last_offset, e.term,
                       e.crc, e.size);
}

void checker::fail(const std::string& why) {
    if (!_failure.empty()) {
        return;
    }
    ++_stats.violations;
    _failure = fmt::format("tick {}: {}", _trace.tick(), why);
    if (_trace.verbose()) {
        _trace.print("VIOLATION " + why);
    }
}

const entry_id* checker::committed_at(offset_t offset) const {
    auto it = _committed.upper_bound(offset);
    if (it == _committed.begin()) {
        return nullptr;
    }
    --it;
    return it->second.last_offset >= offset ? &it->second : nullptr;
}

void checker::on_leader(node_id id, const raft::raft_node& node) {
    auto [it, fresh] = _leaders.emplace(node.term(), id);
    if (!fresh && it->second != id) {
        fail(fmt::format("election safety: nodes {} and {} both led term {}", it->second, id,
                         node.term()));
        return;
    }
    // Leader completeness against everything applied anywhere so far.
    const raft::log_view& log = node.log();
    offset_t start = log.start_offset();
    auto first = _committed.upper_bound(start - 1);
    if (first != _committed.begin()) {
        --first;  // the entry ending at the snapshot, which may begin before it
    }
    for (auto c = first; c != _committed.end(); ++c) {
        const entry_id& e = c->second;
        if (e.last_offset < start - 1) {
            continue;
        }
        if (e.last_offset == start - 1) {
            if (log.snapshot().last_term != e.term) {
                fail(
                    fmt::format("leader completeness: leader {} of term {} has snapshot {}@{} "
                                "but committed {}",
                                id, node.term(), log.snapshot().last_offset,
                                log.snapshot().last_term, describe(e)));
            }
            continue;
        }
        auto pos = log.position_of(e.base_offset);
        if (!pos || pos->base_offset != e.base_offset || pos->last_offset != e.last_offset ||
            pos->term != e.term) {
            fail(
                fmt::format("leader completeness: leader {} of term {} (log {}..{}) lacks "
                            "committed {}{}",
                            id, node.term(), start, log.last_offset(), describe(e),
                            pos ? fmt::format(", holds [{}..{}]@{}", pos->base_offset,
                                              pos->last_offset, pos->term)
                                : std::string()));
            return;
        }
    }
}

void checker::on_written(node_id id, const raft::memory_log& disk, const raft::ready& rd) {
    if (rd.entries.empty()) {
        return;
    }
    // The term of the entry before the first one written, as the disk now has it.
    offset_t before = rd.entries.front().base_offset - 1;
    auto prev = disk.position_of(before);
    if (!prev || prev->last_offset != before) {
        fail(fmt::format("node {} wrote entries from {} but its log does not end at {} there", id,
                         before + 1, before));
        return;
    }
    raft::term_t prev_term = prev->term;
    offset_t expect_base = before + 1;
    for (const raft::entry& e : rd.entries) {
        if (e.base_offset != expect_base || e.last_offset < e.base_offset) {
            fail(fmt::format("node {} wrote a non-contiguous entry [{}..{}] after {}", id,
                             e.base_offset, e.last_offset, expect_base - 1));
            return;
        }
        entry_id eid = id_of(e);
        chain_link link{.id = eid, .prev_term = prev_term, .first_writer = id};
        auto [it, fresh] = _chain.emplace(std::make_pair(e.base_offset, e.term), link);
        if (!fresh && (it->second.id != eid || it->second.prev_term != prev_term)) {
            fail(
                fmt::format("log matching: node {} wrote {} after term {}, node {} wrote {} "
                            "after term {}",
                            id, describe(eid), prev_term, it->second.first_writer,
                            describe(it->second.id), it->second.prev_term));
            return;
        }
        prev_term = e.term;
        expect_base = e.last_offset + 1;
    }
    if (disk.last_offset() != rd.entries.back().last_offset) {
        fail(fmt::format("node {} wrote up to {} but its log ends at {}", id,
                         rd.entries.back().last_offset, disk.last_offset()));
    }
}

bool checker::on_applied(node_id id, const raft::entry& e) {
    entry_id eid = id_of(e);
    auto it = _committed.find(e.base_offset);
    if (it != _committed.end()) {
        if (it->second != eid) {
            fail(fmt::format("state machine safety: node {} applied {} where {} was applied", id,
                             describe(eid), describe(it->second)));
        }
        return false;
    }
    const entry_id* below = committed_at(e.base_offset);
    auto above = _committed.upper_bound(e.base_offset);
    if (below != nullptr || (above != _committed.end() && above->first <= e.last_offset)) {
        fail(
            fmt::format("state machine safety: node {} applied {} overlapping another applied "
                        "entry",
                        id, describe(eid)));
        return false;
    }
    _committed.emplace(e.base_offset, eid);
    return true;
}

void checker::on_snapshot_applied(node_id id, const raft::snapshot& snap) {
    const entry_id* at = committed_at(snap.last_offset);
    if (at != nullptr && (at->last_offset != snap.last_offset || at->term != snap.last_term)) {
        fail(
            fmt::format("state machine safety: node {} installed snapshot {}@{} where {} was "
                        "applied",
                        id, snap.last_offset, snap.last_term, describe(*at)));
    }
}

void checker::on_image(node_id id, raft::offset_t offset, uint32_t hash) {
    auto [it, first] = _images.try_emplace(offset, hash, id);
    if (first) {
        ++_stats.images_compared;
    } else if (it->second.first != hash) {
        fail(
            fmt::format("controller images differ after offset {}: node {} has {:08x}, node {} "
                        "had {:08x}",
                        offset, id, hash, it->second.second, it->second.first));
    }
}

void checker::on_acked(const entry_id& e) {
    auto it = _committed.find(e.base_offset);
    if (it == _committed.end() || it->second != e) {
        fail(fmt::format("acknowledged {} is not what was applied there", describe(e)));
    }
    _acked.push_back(e);
}

void checker::on_recovered(node_id id, const raft::hard_state& synced,
                           const raft::hard_state& recovered) {
    bool regressed = recovered.term < synced.term ||
                     (recovered.term == synced.term && synced.voted_for != raft::no_node &&
                      recovered.voted_for != synced.voted_for);
    if (regressed) {
        fail(fmt::format("node {} recovered term {} vote {} after syncing term {} vote {}", id,
                         recovered.term, recovered.voted_for, synced.term, synced.voted_for));
    }
}

void checker::compare_logs(const std::vector<std::pair<node_id, const raft::memory_log*>>& logs) {
    for (size_t i = 0; i < logs.size(); ++i) {
        for (size_t j = i + 1; j < logs.size(); ++j) {
            compare_pair(logs[i].first, logs[i].second->all_entries(), logs[j].first,
                         logs[j].second->all_entries());
        }
    }
}

void checker::compare_pair(node_id a, const std::vector<raft::entry>& log_a, node_id b,
                           const std::vector<raft::entry>& log_b) {
    // Walk the overlap in offset order; once the logs have differed somewhere, they may not
    // share an entry (same base offset and term) later on.
    size_t i = 0;
    size_t j = 0;
    offset_t first_difference = -1;
    while (i < log_a.size() && j < log_b.size()) {
        const raft::entry& x = log_a[i];
        const raft::entry& y = log_b[j];
        if (x.last_offset < y.base_offset) {
            ++i;
            continue;
        }
        if (y.last_offset < x.base_offset) {
            ++j;
            continue;
        }
        if (x.base_offset == y.base_offset && x.term == y.term) {
            if (x.batch != y.batch && id_of(x) != id_of(y)) {
                fail(fmt::format("log matching: nodes {} and {} hold {} and {}", a, b,
                                 describe(id_of(x)), describe(id_of(y))));
                return;
            }
            if (first_difference >= 0) {
                fail(fmt::format("log matching: nodes {} and {} share {} but differ at {}", a, b,
                                 describe(id_of(x)), first_difference));
                return;
            }
        } else if (first_difference < 0) {
            first_difference = std::min(x.base_offset, y.base_offset);
        }
        if (x.last_offset <= y.last_offset) {
            ++i;
        }
        if (y.last_offset <= x.last_offset) {
            ++j;
        }
    }
}

void checker::check_acked_held(node_id id, const raft::memory_log& disk) {
    raft::snapshot snap = disk.snapshot();
    const std::vector<raft::entry>& log = disk.all_entries();
    for (const entry_id& e : _acked) {
        if (e.last_offset < snap.last_offset) {
            continue;
        }
        if (e.last_offset == snap.last_offset) {
            if (snap.last_term != e.term) {
                fail(fmt::format("acknowledged {} lost: node {} has snapshot {}@{}", describe(e),
                                 id, snap.last_offset, snap.last_term));
                return;
            }
            continue;
        }
        auto it =
            std::lower_bound(log.begin(), log.end(), e.base_offset,
                             [](const raft::entry& x, offset_t o) { return x.base_offset < o; });
        if (it == log.end() || id_of(*it) != e) {
            fail(
                fmt::format("acknowledged {} lost: node {} holds {}", describe(e), id,
                            it == log.end() ? std::string("nothing there") : describe(id_of(*it))));
            return;
        }
    }
}

}  // namespace trib::sim
