// The safety invariants, checked as the run goes (each event costs O(1) or O(log n) here;
// the full pairwise log comparison runs every so often and at the end):
// - election safety: at most one leader per term, ever;
// - log matching: an (offset, term) pair names one entry, and the term of the entry before
//   it, in every log that ever holds it; by induction two logs sharing an entry share
//   everything before it (and compare_logs checks that directly);
// - leader completeness: a new leader holds every entry committed so far, unless it lies
//   below the leader's snapshot;
// - state machine safety: no two nodes apply different entries at one offset;
// - acknowledged entries are never lost: identical wherever applied, and held by the final
//   voters' durable logs or snapshots;
// - durable hard state: a crash never takes back a synced term or vote.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "raft/core/memory_log.h"
#include "raft/core/raft_node.h"
#include "sim/trace.h"

namespace trib::sim {

// One entry's identity: its position, term and a digest of its bytes (the batch CRC covers
// all but the base offset and epoch, which are compared as fields).
struct entry_id {
    raft::offset_t base_offset = 0;
    raft::offset_t last_offset = 0;
    raft::term_t term = 0;
    uint32_t crc = 0;
    uint64_t size = 0;
    friend bool operator==(const entry_id&, const entry_id&) = default;
};
entry_id id_of(const raft::entry& e);
std::string describe(const entry_id& e);

class checker {
  public:
    checker(trace& tr, sim_stats& stats) : _trace(tr), _stats(stats) {}

    bool failed() const { return !_failure.empty(); }
    const std::string& failure() const { return _failure; }
    // Records a violation (the first one is the run's verdict).
    void fail(const std::string& why);

    // `node` just became leader of its term.
    void on_leader(raft::node_id id, const raft::raft_node& node);
    // `rd` was just written to `disk`.
    void on_written(raft::node_id id, const raft::memory_log& disk, const raft::ready& rd);
    // `id` applied `e`; true when no node had applied it before.
    bool on_applied(raft::node_id id, const raft::entry& e);
    // `id` replaced its state with a snapshot it was sent.
    void on_snapshot_applied(raft::node_id id, const raft::snapshot& snap);
    // The hash of a node's controller image after applying through `offset`: equal on every
    // node at equal offsets.
    void on_image(raft::node_id id, raft::offset_t offset, uint32_t hash);
    // `e` was reported committed to the client that proposed it.
    void on_acked(const entry_id& e);
    // A node came back from a crash with `recovered`; it had synced `synced`.
    void on_recovered(raft::node_id id, const raft::hard_state& synced,
                      const raft::hard_state& recovered);

    // Pairwise: logs that agree on an entry agree on every entry before it.
    void compare_logs(const std::vector<std::pair<raft::node_id, const raft::memory_log*>>& logs);
    // Every acknowledged entry is in `disk`'s log or below its snapshot.
    void check_acked_held(raft::node_id id, const raft::memory_log& disk);

    const std::map<raft::offset_t, entry_id>& committed() const { return _committed; }
    const std::vector<entry_id>& acked() const { return _acked; }

  private:
    void compare_pair(raft::node_id a, const std::vector<raft::entry>& log_a, raft::node_id b,
                      const std::vector<raft::entry>& log_b);
    // The committed entry holding `offset`, or null.
    const entry_id* committed_at(raft::offset_t offset) const;

    struct chain_link {
        entry_id id;
        raft::term_t prev_term = 0;
        raft::node_id first_writer = raft::no_node;
    };

    trace& _trace;
    sim_stats& _stats;
    std::string _failure;
    std::map<raft::term_t, raft::node_id> _leaders;
    std::map<std::pair<raft::offset_t, raft::term_t>, chain_link> _chain;
    std::map<raft::offset_t, entry_id> _committed;  // by base offset: every entry applied
    std::vector<entry_id> _acked;
    std::map<raft::offset_t, std::pair<uint32_t, raft::node_id>> _images;  // first seen
};

}  // namespace trib::sim
