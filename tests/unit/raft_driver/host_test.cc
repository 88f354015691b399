// Three Raft hosts in one process over real loopback connections and real storage: a leader
// is elected, proposals commit with identical logs everywhere, a stopped follower catches up
// after its restart, and a stopped leader is replaced without losing committed entries.
#include "raft/host.h"

#include <filesystem>
#include <functional>
#include <random>

#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include "base/big_endian.h"
#include "base/byte_io.h"
#include "model/record_batch.h"
#include "storage/fault_io.h"
#include "storage/file.h"
#include "unit/test_port.h"

namespace trib::raft {
namespace {
namespace fs = std::filesystem;

std::vector<uint8_t> batch_of(const std::string& value) {
    model::record r{.value = std::vector<uint8_t>(value.begin(), value.end())};
    return model::build_batch({}, std::span(&r, 1)).value();
}

class three_hosts : public ::testing::Test {
  protected:
    // Every host's files go through it: unsynced writes live in memory until synced.
    storage::scoped_fault_io faults;

    void SetUp() override {
        for (node_id id = 1; id <= 3; ++id) {
            peers[id] = {"127.0.0.1", test::reserved_port()};
        }
        for (node_id id = 1; id <= 3; ++id) {
            start(id);
        }
    }
    void TearDown() override {
        for (auto& h : hosts) {
            h.reset();
        }
        fs::remove_all(dir);
    }

    void start(node_id id) {
        host_config c{.id = id, .peers = peers, .dir = dir / std::to_string(id), .tick_ms = 10};
        c.options.seed = static_cast<uint64_t>(id);
        auto& h = hosts[static_cast<size_t>(id - 1)];
        h = std::make_unique<host>(loop, c);
        ASSERT_TRUE(h->start().has_value());
        committed[static_cast<size_t>(id - 1)] = -1;
        ASSERT_TRUE(h->add_group(7, configuration{{1, 2, 3}}, [this, id](offset_t o) {
                         committed[static_cast<size_t>(id - 1)] = o;
                     }).has_value());
    }
    void stop(node_id id) { hosts[static_cast<size_t>(id - 1)].reset(); }

    group* group_of(node_id id) {
        auto& h = hosts[static_cast<size_t>(id - 1)];
        return h ? h->find(7) : nullptr;
    }

    bool run_until(const std::function<bool()>& done,
                   std::chrono::seconds limit = std::chrono::seconds(20)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            loop.run_for(std::chrono::milliseconds(5));
            if (done()) {
                return true;
            }
        }
        return false;
    }

    node_id leader() {
        for (node_id id = 1; id <= 3; ++id) {
            group* g = group_of(id);
            if (g != nullptr && g->node().role() == role::leader) {
                return id;
            }
        }
        return no_node;
    }

    node_id await_leader() {
        node_id l = no_node;
        EXPECT_TRUE(run_until([&] { return (l = leader()) != no_node; }));
        return l;
    }

    // Proposes `n` batches at the leader and waits until every running host applied them.
    offset_t propose_and_commit(int n, const std::string& tag) {
        node_id l = await_leader();
        offset_t last = -1;
        for (int i = 0; i < n; ++i) {
            auto o = group_of(l)->propose(batch_of(tag + std::to_string(i)));
            EXPECT_TRUE(o.has_value());
            last = *o;
            group_of(l)->pump();
        }
        EXPECT_TRUE(run_until([&] {
            for (node_id id = 1; id <= 3; ++id) {
                if (group_of(id) != nullptr && committed[static_cast<size_t>(id - 1)] < last) {
                    return false;
                }
            }
            return true;
        })) << "proposals through "
            << last << " did not commit everywhere";
        return last;
    }

    std::vector<std::vector<uint8_t>> log_bytes(node_id id, offset_t through) {
        std::vector<std::vector<uint8_t>> out;
        auto es = group_of(id)->store().entries(0, through, 64 << 20).value();
        for (const auto& e : es) {
            out.push_back(*e.batch);
        }
        return out;
    }

    asio::io_context loop;
    fs::path dir =
        fs::temp_directory_path() / ("trib-raft-hosts-" + std::to_string(std::random_device{}()));
    std::map<node_id, rpc::peer_address> peers;
    std::array<std::unique_ptr<host>, 3> hosts;
    std::array<offset_t, 3> committed{};
};

TEST_F(three_hosts, elect_a_leader_and_commit_identical_logs) {
    offset_t last = propose_and_commit(100, "a");
    auto reference = log_bytes(1, last);
    EXPECT_EQ(reference.size(), 101u);  // the leader's own entry, then the 100 proposals
    EXPECT_EQ(log_bytes(2, last), reference);
    EXPECT_EQ(log_bytes(3, last), reference);
    // Heartbeats of a tick to one peer share one frame with whatever else went that turn.
    EXPECT_GT(hosts[0]->transport_stats().frames_sent, 0u);
}

TEST_F(three_hosts, a_restarted_follower_catches_up_from_its_own_disk_and_the_leader) {
    propose_and_commit(20, "a");
    node_id l = leader();
    node_id follower = l == 1 ? 2 : 1;
    stop(follower);
    offset_t last = propose_and_commit(30, "b");  // the other two still make a majority
    start(follower);
    ASSERT_TRUE(run_until([&] { return committed[static_cast<size_t>(follower - 1)] >= last; }));
    EXPECT_EQ(log_bytes(follower, last), log_bytes(l, last));
}

TEST_F(three_hosts, power_loss_on_a_follower_and_then_the_leader_loses_no_committed_entry) {
    // The hosts run on fault_io: a host stopped and then `lose_power`ed keeps only what it
    // synced (plus a torn prefix of the rest), as after a power cut, not a process kill.
    propose_and_commit(20, "a");
    node_id l = leader();
    node_id follower = l == 1 ? 2 : 1;
    propose_and_commit(10, "b");
    stop(follower);
    faults->lose_power(11, false, dir / std::to_string(follower));
    start(follower);
    offset_t last = propose_and_commit(10, "c");
    ASSERT_TRUE(run_until([&] { return committed[static_cast<size_t>(follower - 1)] >= last; }));
    auto reference = log_bytes(l, last);
    EXPECT_EQ(log_bytes(follower, last), reference);
    // Now the leader: everything it acknowledged as committed is on the majority that
    // counted it, and the group goes on without losing any of it.
    stop(l);
    faults->lose_power(12, false, dir / std::to_string(l));
    start(l);
    offset_t after = propose_and_commit(5, "d");
    node_id now = await_leader();
    auto everything = log_bytes(now, after);
    ASSERT_GE(everything.size(), reference.size());
    EXPECT_TRUE(std::equal(reference.begin(), reference.end(), everything.begin()));
    ASSERT_TRUE(run_until([&] { return committed[static_cast<size_t>(l - 1)] >= after; }));
    EXPECT_EQ(log_bytes(l, after), everything);
}

TEST_F(three_hosts, a_stopped_leader_is_replaced_and_committed_entries_stay) {
    offset_t before = propose_and_commit(20, "a");
    node_id old = leader();
    auto committed_log = log_bytes(old, before);
    stop(old);
    node_id fresh = await_leader();
    ASSERT_NE(fresh, old);
    offset_t after = propose_and_commit(10, "b");
    auto now = log_bytes(fresh, after);
    ASSERT_GE(now.size(), committed_log.size());
    EXPECT_TRUE(std::equal(committed_log.begin(), committed_log.end(), now.begin()));
    EXPECT_GT(group_of(fresh)->node().term(), 1);
    start(old);  // it rejoins as a follower and takes the new entries
    ASSERT_TRUE(run_until([&] { return committed[static_cast<size_t>(old - 1)] >= after; }));
    EXPECT_EQ(log_bytes(old, after), now);
}

TEST_F(three_hosts, a_leader_whose_process_is_gone_is_reported_unreachable_and_back) {
    // What Metadata uses to stop naming a dead leader: a follower sees the leader's
    // connections close (and its port refuse) long before its election timeout.
    propose_and_commit(3, "r");
    node_id old = leader();
    node_id follower = old == 1 ? 2 : 1;
    std::map<node_id, bool> seen;
    hosts[static_cast<size_t>(follower - 1)]->transport().on_reachability(
        [&](node_id peer, bool up) { seen[peer] = up; });
    stop(old);
    ASSERT_TRUE(
        run_until([&] { return seen.contains(old) && !seen[old]; }, std::chrono::seconds(5)));
    start(old);
    ASSERT_TRUE(run_until([&] { return seen[old]; }, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace trib::raft

namespace trib::raft {
namespace {

// A raw connection to host 1, writing whatever a test gives it.
void send_raw(asio::io_context& loop, uint16_t port, const std::vector<uint8_t>& bytes) {
    asio::ip::tcp::socket s(loop);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(s, asio::buffer(bytes));
    loop.run_for(std::chrono::milliseconds(50));
}

// A hello as docs/formats/raft-rpc.md lays it out.
std::vector<uint8_t> hello(uint32_t magic, node_id from, node_id to, uint16_t version = 2,
                           const std::string& cluster = "") {
    std::vector<uint8_t> body;
    byte_writer b(body);
    b.i32(from);
    b.i32(to);
    b.str("127.0.0.1");
    b.u16(1);
    b.str(cluster);
    std::vector<uint8_t> out;
    out.reserve(8 + body.size());  // (g++ 12 sees a false array-bounds error without it)
    byte_writer w(out);
    w.u32(magic);
    w.u16(version);
    w.u16(static_cast<uint16_t>(body.size()));
    w.raw(body);
    return out;
}

TEST_F(three_hosts, strangers_garbage_and_oversized_frames_are_refused_and_the_group_goes_on) {
    propose_and_commit(5, "a");
    hosts[0]->transport().set_cluster_id("cluster-a");
    uint16_t port = peers[1].port;
    auto refused = [&] { return hosts[0]->transport_stats().connections_refused; };
    uint64_t before = refused();
    send_raw(loop, port, hello(0xdeadbeef, 2, 1));                  // wrong magic
    send_raw(loop, port, hello(0x54524942, 2, 1, 1));               // the old version
    send_raw(loop, port, hello(0x54524942, 2, 3));                  // meant for another node
    send_raw(loop, port, hello(0x54524942, 2, 1, 2, "cluster-b"));  // another cluster
    auto oversized = hello(0x54524942, 2, 1);
    oversized.insert(oversized.end(), {0xff, 0xff, 0xff, 0xff});
    send_raw(loop, port, oversized);
    auto garbage = hello(0x54524942, 2, 1);
    garbage.insert(garbage.end(), {0, 0, 0, 6, 0, 1, 2, 3, 4, 5});
    send_raw(loop, port, garbage);
    auto unknown_channel = hello(0x54524942, 2, 1);
    unknown_channel.insert(unknown_channel.end(), {0, 0, 0, 1, 9});
    send_raw(loop, port, unknown_channel);
    EXPECT_EQ(refused(), before + 7);
    propose_and_commit(5, "b");  // the group never noticed
}

TEST_F(three_hosts, a_hello_from_an_unknown_node_makes_it_a_peer) {
    EXPECT_FALSE(hosts[0]->transport().knows(9));
    send_raw(loop, peers[1].port, hello(0x54524942, 9, 1, 2, ""));
    EXPECT_TRUE(hosts[0]->transport().knows(9));
}

TEST_F(three_hosts, rpc_payloads_reach_the_handler_of_the_named_node) {
    std::vector<uint8_t> got;
    node_id sender = no_node;
    hosts[2]->set_rpc_handler([&](node_id from, std::span<const uint8_t> payload) {
        sender = from;
        got.assign(payload.begin(), payload.end());
        return true;
    });
    std::vector<uint8_t> payload = {1, 2, 3, 4};
    hosts[0]->send_rpc(3, payload);
    ASSERT_TRUE(run_until([&] { return !got.empty(); }));
    EXPECT_EQ(got, payload);
    EXPECT_EQ(sender, 1);
}

}  // namespace
}  // namespace trib::raft

namespace trib::raft {
namespace {

TEST_F(three_hosts, a_failed_sync_stops_that_group_and_the_others_go_on) {
    propose_and_commit(10, "a");
    faults->fail(storage::fault_io::op::sync, EIO, 1);  // the next fdatasync anywhere fails
    node_id l = leader();
    ASSERT_TRUE(group_of(l)->propose(batch_of("doomed?")).has_value());
    group_of(l)->pump();
    node_id failed = no_node;
    ASSERT_TRUE(run_until([&] {
        for (node_id id = 1; id <= 3; ++id) {
            if (group_of(id)->failed()) {
                failed = id;
                return true;
            }
        }
        return false;
    }));
    // The failed group is silent (a crashed node to its peers); the other two go on.
    auto healthy_leader = [&] {
        for (node_id id = 1; id <= 3; ++id) {
            if (id != failed && group_of(id)->node().role() == role::leader) return id;
        }
        return no_node;
    };
    node_id l2 = no_node;
    ASSERT_TRUE(run_until([&] { return (l2 = healthy_leader()) != no_node; }));
    offset_t last = -1;
    for (int i = 0; i < 5; ++i) {
        last = group_of(l2)->propose(batch_of("b" + std::to_string(i))).value();
    }
    group_of(l2)->pump();
    ASSERT_TRUE(run_until([&] {
        for (node_id id = 1; id <= 3; ++id) {
            if (id != failed && committed[static_cast<size_t>(id - 1)] < last) return false;
        }
        return true;
    }));
    // A restart reopens the store (the log syncs what it holds) and catches up.
    stop(failed);
    start(failed);
    ASSERT_TRUE(run_until([&] { return committed[static_cast<size_t>(failed - 1)] >= last; }));
    EXPECT_EQ(log_bytes(failed, last), log_bytes(l2, last));
}

}  // namespace
}  // namespace trib::raft

namespace trib::raft {
namespace {

TEST_F(three_hosts, a_connection_that_never_says_hello_is_closed) {
    asio::ip::tcp::socket s(loop);
    s.connect({asio::ip::make_address("127.0.0.1"), peers[1].port});
    auto opened = std::chrono::steady_clock::now();
    bool closed = false;
    uint8_t byte = 0;
    s.async_read_some(asio::buffer(&byte, 1), [&](std::error_code ec, size_t) { closed = !!ec; });
    ASSERT_TRUE(run_until([&] { return closed; }, std::chrono::seconds(15)));
    auto waited = std::chrono::steady_clock::now() - opened;
    EXPECT_GE(waited, std::chrono::seconds(4));  // the hello timeout is 5 s
}

}  // namespace
}  // namespace trib::raft
