// Commits per second through the pure Raft state machine: three nodes in one thread, messages
// delivered at once, in-memory logs synced at once. What is left is the state machine's own
// cost (bookkeeping, copies of entry handles, message building) per committed batch.
#include <deque>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "base/assert.h"
#include "model/record_batch.h"
#include "raft/core/memory_log.h"
#include "raft/core/raft_node.h"

namespace trib::raft {
namespace {

class three_nodes {
  public:
    three_nodes() {
        configuration voters{{1, 2, 3}};
        for (node_id id = 1; id <= 3; ++id) {
            _disks.push_back(std::make_unique<memory_log>(voters));
            raft_options o{.id = id, .seed = static_cast<uint64_t>(id)};
            _nodes.push_back(std::make_unique<raft_node>(o, *_disks.back(), hard_state{}));
        }
        _nodes[0]->campaign();
        pump();
        TRIB_ASSERT(_nodes[0]->role() == role::leader);
    }

    raft_node& leader() { return *_nodes[0]; }

    // Runs every node's ready work and delivers every message until all is quiet.
    void pump() {
        bool busy = true;
        while (busy) {
            busy = false;
            for (size_t i = 0; i < _nodes.size(); ++i) {
                raft_node& n = *_nodes[i];
                if (!n.has_ready()) {
                    continue;
                }
                busy = true;
                ready rd = n.take_ready();
                _disks[i]->write(rd);
                _disks[i]->sync();
                for (auto& m : rd.messages) {
                    _net.push_back(std::move(m));
                }
                for (auto& m : rd.messages_after_persist) {
                    _net.push_back(std::move(m));
                }
                n.advance(rd);
            }
            while (!_net.empty()) {
                busy = true;
                message m = std::move(_net.front());
                _net.pop_front();
                _nodes[static_cast<size_t>(m.to - 1)]->step(m);
            }
        }
    }

    // Drops the committed prefix now and then, as retention would, to bound memory.
    void compact_sometimes() {
        offset_t applied = _nodes[0]->applied_offset();
        if (applied - _nodes[0]->log().start_offset() < 20'000) {
            return;
        }
        for (size_t i = 0; i < _nodes.size(); ++i) {
            raft_node& n = *_nodes[i];
            auto pos = n.log().position_of(n.applied_offset());
            snapshot s{
                .last_offset = pos->last_offset, .last_term = pos->term, .config = n.config()};
            _disks[i]->compact(s);
            _disks[i]->sync();
            n.compacted(s);
        }
    }

  private:
    std::vector<std::unique_ptr<memory_log>> _disks;
    std::vector<std::unique_ptr<raft_node>> _nodes;
    std::deque<message> _net;
};

std::vector<uint8_t> batch_of(size_t records, size_t value_bytes) {
    std::vector<model::record> rs(records);
    for (auto& r : rs) {
        r.value = std::vector<uint8_t>(value_bytes, 0x42);
    }
    return model::build_batch(model::batch_options{}, rs).value();
}

// One batch proposed and committed at a time (latency-bound: a full round per commit).
void raft_commit_one_at_a_time(benchmark::State& state) {
    three_nodes c;
    auto batch = batch_of(16, 1000);
    for (auto _ : state) {
        auto offset = c.leader().propose(batch, 0);
        TRIB_ASSERT(offset.has_value());
        c.pump();
        c.compact_sometimes();
    }
    TRIB_ASSERT(c.leader().commit_offset() >= 0);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
}
BENCHMARK(raft_commit_one_at_a_time);

// 64 proposals per round, as a busy leader batches them between its syncs.
void raft_commit_pipelined(benchmark::State& state) {
    three_nodes c;
    auto batch = batch_of(16, 1000);
    for (auto _ : state) {
        for (int i = 0; i < 64; ++i) {
            auto offset = c.leader().propose(batch, 0);
            TRIB_ASSERT(offset.has_value());
        }
        c.pump();
        c.compact_sometimes();
    }
    state.SetItemsProcessed(state.iterations() * 64);
    state.SetBytesProcessed(state.iterations() * 64 * static_cast<int64_t>(batch.size()));
}
BENCHMARK(raft_commit_pipelined);

}  // namespace
}  // namespace trib::raft
