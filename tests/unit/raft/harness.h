// A deterministic driver for raft_node tests: N nodes, each over its own memory_log, and a
// network that is a FIFO queue the test delivers from by hand (all, some, or none). Ready work
// is processed the way a real driver must: persist, sync, queue both message lists, advance.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "raft/core/memory_log.h"
#include "raft/core/raft_node.h"

namespace trib::raft::test {

// A data batch as a client would send it (offsets and epoch unset): `records` records of value.
inline std::vector<uint8_t> data_batch(std::string_view value, int records = 1) {
    std::vector<model::record> rs;
    for (int i = 0; i < records; ++i) {
        rs.push_back(model::record{.timestamp = 1000,
                                   .value = std::vector<uint8_t>(value.begin(), value.end())});
    }
    auto b = model::build_batch(model::batch_options{}, rs);
    TRIB_ASSERT(b.has_value());
    return std::move(*b);
}

// Stamps a batch as a leader of `term` would at `base` and reads it back as an entry.
inline entry stamped(std::vector<uint8_t> bytes, offset_t base, term_t term) {
    model::set_base_offset(bytes, base);
    model::set_partition_leader_epoch(bytes, static_cast<int32_t>(term));
    auto e = entry_from_batch(std::make_shared<const std::vector<uint8_t>>(std::move(bytes)));
    TRIB_ASSERT(e.has_value());
    return *e;
}

inline entry data_entry(offset_t base, term_t term, int records = 1) {
    return stamped(data_batch("v" + std::to_string(base) + "t" + std::to_string(term), records),
                   base, term);
}

inline entry config_entry(offset_t base, term_t term, const configuration& c) {
    return stamped(make_config_batch(c, 0), base, term);
}

// A log of one-record data entries from offset 0, with the given terms.
inline std::vector<entry> log_of_terms(const std::vector<term_t>& terms) {
    std::vector<entry> out;
    for (size_t i = 0; i < terms.size(); ++i) {
        out.push_back(data_entry(static_cast<offset_t>(i), terms[i]));
    }
    return out;
}

inline bool has(const std::vector<message>& ms, msg_type t) {
    return std::any_of(ms.begin(), ms.end(), [t](const message& m) { return m.type == t; });
}

class cluster {
  public:
    struct member {
        raft_options opt;
        std::unique_ptr<memory_log> disk;
        std::unique_ptr<raft_node> node;
        std::vector<ready> readies;     // every ready processed, in order
        offset_t reported_commit = -1;  // the highest commit_offset a ready handed out
    };

    explicit cluster(raft_options base = {}) : _base(base) {}
    // Fresh nodes `ids`, bootstrapped with all of them as voters.
    explicit cluster(std::initializer_list<node_id> ids, raft_options base = {}) : _base(base) {
        configuration c{std::vector<node_id>(ids)};
        std::sort(c.voters.begin(), c.voters.end());
        for (node_id id : ids) {
            add(id, c);
        }
    }

    // A node whose disk already holds `log` and `hs`, synced (as if it had run before).
    void add(node_id id, const configuration& bootstrap, std::vector<entry> log = {},
             hard_state hs = {}, std::optional<raft_options> opt = std::nullopt) {
        member m;
        m.opt = opt.value_or(_base);
        m.opt.id = id;
        m.opt.seed = _base.seed * 1000 + static_cast<uint64_t>(id);  // distinct timeouts
        m.disk = std::make_unique<memory_log>(bootstrap);
        ready seed;
        if (hs != hard_state{}) {
            seed.hard_state = hs;
        }
        seed.entries = std::move(log);
        m.disk->write(seed);
        m.disk->sync();
        m.node = std::make_unique<raft_node>(m.opt, *m.disk, m.disk->state());
        _members[id] = std::move(m);
    }

    raft_node& node(node_id id) { return *at(id).node; }
    memory_log& disk(node_id id) { return *at(id).disk; }
    member& at(node_id id) {
        auto it = _members.find(id);
        TRIB_ASSERT_MSG(it != _members.end(), "no node {}", id);
        return it->second;
    }
    std::vector<node_id> ids() const {
        std::vector<node_id> out;
        for (const auto& [id, m] : _members)
            out.push_back(id);
        return out;
    }

    // A power loss: the disk keeps what `seed` lets reach it, the node restarts from it.
    void restart(node_id id, uint64_t seed = 0, bool tear = false) {
        member& m = at(id);
        m.disk->crash(seed, tear);
        m.node = std::make_unique<raft_node>(m.opt, *m.disk, m.disk->state());
        m.reported_commit = -1;
    }

    // Carries out one ready the way a driver must. Returns false if there was none.
    bool process_one(node_id id) {
        member& m = at(id);
        if (!m.node->has_ready()) return false;
        ready rd = m.node->take_ready();
        m.disk->write(rd);
        m.disk->sync();
        for (const message& msg : rd.messages)
            queue.push_back(msg);
        for (const message& msg : rd.messages_after_persist)
            queue.push_back(msg);
        if (rd.commit_offset) {
            m.reported_commit = std::max(m.reported_commit, *rd.commit_offset);
        }
        m.node->advance(rd);
        m.readies.push_back(std::move(rd));
        return true;
    }
    void process(node_id id) {
        for (int i = 0; i < 100 && process_one(id); ++i) {
        }
    }
    void process_all() {
        for (node_id id : ids())
            process(id);
    }

    // One pass over the queue: delivers the messages `pred` accepts (those it rejects stay
    // queued, in order), processing each recipient after each message. Messages from or to an
    // isolated or absent node are lost. Returns how many were delivered.
    size_t deliver_if(const std::function<bool(const message&)>& pred) {
        std::deque<message> pending;
        pending.swap(queue);
        size_t delivered = 0;
        while (!pending.empty()) {
            message m = std::move(pending.front());
            pending.pop_front();
            if (!pred(m)) {
                queue.push_back(std::move(m));  // keeps order relative to later ones
                continue;
            }
            delivered += deliver(m) ? 1 : 0;
        }
        return delivered;
    }
    // Hands one message to its recipient (unless the network loses it) and processes it.
    bool deliver(const message& m) {
        if (_isolated.contains(m.from) || _isolated.contains(m.to) || !_members.contains(m.to)) {
            return false;
        }
        trace.push_back(m);
        node(m.to).step(m);
        process(m.to);
        return true;
    }
    size_t drop_if(const std::function<bool(const message&)>& pred) {
        size_t before = queue.size();
        std::erase_if(queue, pred);
        return before - queue.size();
    }
    // Processes and delivers everything until the network is quiet; the network loses the
    // messages `lose` picks.
    void settle(const std::function<bool(const message&)>& lose = nullptr) {
        for (int round = 0; round < 10000; ++round) {
            process_all();
            if (lose) drop_if(lose);
            if (queue.empty()) return;
            deliver_if([](const message&) { return true; });
        }
        ADD_FAILURE() << "the cluster did not quiesce";
    }

    void tick(node_id id, int n = 1) {
        for (int i = 0; i < n; ++i) {
            node(id).tick();
            process(id);
        }
    }
    // `n` rounds of: every reachable node ticks, then the network settles.
    void tick_all(int n = 1) {
        for (int i = 0; i < n; ++i) {
            for (node_id id : ids())
                node(id).tick();
            settle();
        }
    }

    void isolate(node_id id) { _isolated.insert(id); }
    void heal(node_id id) { _isolated.erase(id); }
    void heal_all() { _isolated.clear(); }

    // The leader of the highest term among the nodes, or no_node.
    node_id leader() {
        node_id best = no_node;
        for (auto& [id, m] : _members) {
            if (m.node->role() == role::leader &&
                (best == no_node || m.node->term() > node(best).term())) {
                best = id;
            }
        }
        return best;
    }

    // Node `id` campaigns and the network settles; returns whether it leads.
    bool elect(node_id id) {
        node(id).campaign();
        settle();
        return node(id).role() == role::leader;
    }

    // Proposes a data batch at `id` and returns its base offset (-1 on refusal).
    offset_t propose(node_id id, std::string_view value, int records = 1) {
        auto r = node(id).propose(data_batch(value, records), ++now_ms);
        process(id);
        return r ? *r : -1;
    }

    // Safety: every two nodes agree on each entry both report committed (term, offsets, bytes).
    void expect_committed_prefixes_agree() {
        for (auto& [a, ma] : _members) {
            for (auto& [b, mb] : _members) {
                if (a >= b) continue;
                offset_t upto = std::min(ma.node->commit_offset(), mb.node->commit_offset());
                for (const entry& ea : ma.disk->all_entries()) {
                    if (ea.last_offset > upto) break;
                    for (const entry& eb : mb.disk->all_entries()) {
                        if (eb.base_offset != ea.base_offset) continue;
                        EXPECT_EQ(ea.term, eb.term)
                            << "nodes " << a << "," << b << " at " << ea.base_offset;
                        EXPECT_EQ(ea.last_offset, eb.last_offset);
                        EXPECT_TRUE(*ea.batch == *eb.batch);
                    }
                }
            }
        }
    }

    // Every message ever delivered, in order (tests look for the ones a rule requires).
    std::vector<message> trace;
    std::deque<message> queue;
    int64_t now_ms = 1'000'000;

  private:
    raft_options _base;
    std::map<node_id, member> _members;
    std::set<node_id> _isolated;
};

// The (base, last, term) of each entry, for comparing logs.
inline std::vector<std::tuple<offset_t, offset_t, term_t>> shape(const std::vector<entry>& log) {
    std::vector<std::tuple<offset_t, offset_t, term_t>> out;
    for (const entry& e : log)
        out.emplace_back(e.base_offset, e.last_offset, e.term);
    return out;
}

inline bool same_log(const std::vector<entry>& a, const std::vector<entry>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (*a[i].batch != *b[i].batch || a[i].term != b[i].term) return false;
    }
    return true;
}

}  // namespace trib::raft::test
