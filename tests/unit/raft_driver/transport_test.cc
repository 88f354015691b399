// The rpc transport alone: a peer learned from hellos follows a node that moved, but a second
// process claiming a live node's id cannot draw that node's traffic to itself.
#include "rpc/transport.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace trib::rpc {
namespace {

struct endpoint {
    std::unique_ptr<transport> t;
    std::vector<std::string> got;  // frames received, as text
    uint16_t port = 0;
};

class transports : public ::testing::Test {
  protected:
    asio::io_context loop;

    // A transport for `self` listening on a free loopback port; `peers` are given up front.
    std::unique_ptr<endpoint> make(node_id self, std::map<node_id, peer_address> peers = {}) {
        auto e = std::make_unique<endpoint>();
        endpoint* raw = e.get();
        // Listen first, so the hello can carry the real port.
        auto probe =
            std::make_unique<transport>(loop, identity{.self = self}, peers,
                                        [](node_id, std::span<const uint8_t>) { return true; });
        EXPECT_TRUE(probe->listen("127.0.0.1", 0).has_value());
        uint16_t port = probe->port();
        probe.reset();
        e->t = std::make_unique<transport>(
            loop, identity{.self = self, .advertised = {"127.0.0.1", port}}, peers,
            [raw](node_id, std::span<const uint8_t> frame) {
                raw->got.emplace_back(frame.begin(), frame.end());
                return true;
            });
        EXPECT_TRUE(e->t->listen("127.0.0.1", port).has_value());
        e->port = port;
        return e;
    }

    static void send(endpoint& from, node_id to, const std::string& text) {
        from.t->send(to, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    }

    bool run_until(const std::function<bool()>& done) {
        for (int i = 0; i < 2000 && !done(); ++i) {
            loop.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }
};

TEST_F(transports, a_claimant_of_a_live_nodes_id_does_not_draw_its_traffic) {
    auto a = make(1);
    auto holder = make(9, {{1, {"127.0.0.1", a->port}}});
    auto claimant = make(9, {{1, {"127.0.0.1", a->port}}});
    a->t->add_peer(9, {"127.0.0.1", holder->port});
    send(*holder, 1, "hello from the holder");  // the holder's hello: the address A knows
    send(*a, 9, "one");
    ASSERT_TRUE(run_until([&] { return holder->got.size() == 1 && a->got.size() == 1; }));

    send(*claimant, 1, "hello from the claimant");  // a hello naming another address
    ASSERT_TRUE(run_until([&] { return a->got.size() == 2; }));
    send(*a, 9, "two");
    ASSERT_TRUE(run_until([&] { return holder->got.size() == 2; }));
    EXPECT_EQ(holder->got.back(), "two");
    EXPECT_TRUE(claimant->got.empty());

    // The holder goes away: the connection to it fails, and the address last named is used.
    holder.reset();
    for (int i = 0; i < 400 && claimant->got.empty(); ++i) {
        send(*a, 9, "three");
        loop.run_for(std::chrono::milliseconds(10));
    }
    ASSERT_FALSE(claimant->got.empty());
    EXPECT_EQ(claimant->got.front(), "three");
}

TEST_F(transports, a_learned_peer_that_restarts_elsewhere_is_followed) {
    auto a = make(1);
    auto old = make(9, {{1, {"127.0.0.1", a->port}}});
    send(*old, 1, "first life");
    ASSERT_TRUE(run_until([&] { return a->got.size() == 1; }));
    send(*a, 9, "to the first");
    ASSERT_TRUE(run_until([&] { return old->got.size() == 1; }));
    old.reset();
    auto moved = make(9, {{1, {"127.0.0.1", a->port}}});
    send(*moved, 1, "second life");
    ASSERT_TRUE(run_until([&] { return a->got.size() == 2; }));
    for (int i = 0; i < 400 && moved->got.empty(); ++i) {
        send(*a, 9, "to the second");
        loop.run_for(std::chrono::milliseconds(10));
    }
    ASSERT_FALSE(moved->got.empty());
}

}  // namespace
}  // namespace trib::rpc
