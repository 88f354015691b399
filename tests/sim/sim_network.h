// The simulated network: every message between nodes goes through here. A message may be
// dropped or duplicated when sent, waits an exponentially distributed number of ticks (so
// messages overtake each other), and is lost if its link is cut when it arrives.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/core/types.h"
#include "sim/rng.h"
#include "sim/trace.h"

namespace trib::sim {

std::string describe(const raft::message& m);

class sim_network {
  public:
    struct conditions {
        double drop = 0;
        double duplicate = 0;
        double delay_mean = 1;  // ticks
    };

    sim_network(uint64_t seed, trace& tr, sim_stats& stats);

    void set_conditions(const conditions& c) { _conditions = c; }
    void send(const raft::message& m, int64_t now);
    // Messages due by `now`, in delivery order, leaving those whose link is cut behind
    // (dropped) and the rest in flight.
    std::vector<raft::message> take_due(int64_t now);
    bool has_due(int64_t now) const { return !_queue.empty() && _queue.front().due <= now; }

    // Partitions: a cut link loses every message from `from` to `to`, including those already
    // in flight.
    void cut(raft::node_id from, raft::node_id to) { _cut.emplace(from, to); }
    void heal() { _cut.clear(); }
    bool is_cut(raft::node_id from, raft::node_id to) const { return _cut.count({from, to}) != 0; }
    bool partitioned() const { return !_cut.empty(); }

  private:
    struct in_transit {
        int64_t due = 0;
        uint64_t seq = 0;  // ties broken by send order, so the order is a function of the seed
        raft::message msg;
    };
    // Min-heap order for std::push_heap: the earliest (due, seq) on top.
    static bool later(const in_transit& a, const in_transit& b) {
        return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
    void enqueue(const raft::message& m, int64_t now);

    rng _rng;
    trace& _trace;
    sim_stats& _stats;
    conditions _conditions;
    std::vector<in_transit> _queue;  // a heap
    uint64_t _next_seq = 0;
    std::set<std::pair<raft::node_id, raft::node_id>> _cut;
};

}  // namespace trib::sim
