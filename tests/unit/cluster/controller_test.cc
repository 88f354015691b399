// Controllers of several nodes in one process, on real loopback sockets and disks: they elect
// a leader, agree on a cluster id, register their brokers, carry out changes asked of any
// node (answered once applied there), fence a broker that stops, refuse a second process
// with a node id in use, and bring a wiped node back from a snapshot.
#include "cluster/controller.h"

#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "unit/test_port.h"

namespace trib::cluster {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return done();
}

class controllers : public ::testing::Test {
  protected:
    fs::path dir =
        fs::temp_directory_path() / ("trib-controller-" + std::to_string(std::random_device{}()));
    std::map<core::node_id, rpc::peer_address> voters;
    std::map<core::node_id, uint16_t> ports;
    std::map<core::node_id, std::unique_ptr<controller>> nodes;
    std::map<core::node_id, uint64_t> dir_ids;
    std::atomic<int> fatal_calls{0};
    std::string fatal_message;
    int64_t session_timeout_ms = 1500;
    int64_t snapshot_every = 1000;

    void SetUp() override {
        for (core::node_id id = 1; id <= 3; ++id) {
            ports[id] = test::reserved_port();
            voters[id] = {"127.0.0.1", ports[id]};
        }
    }
    void TearDown() override {
        nodes.clear();
        fs::remove_all(dir);
    }

    controller_config config_of(core::node_id id) {
        if (!ports.contains(id)) {
            ports[id] = test::reserved_port();
        }
        if (!dir_ids.contains(id)) {
            dir_ids[id] = std::random_device{}() + 1000u * static_cast<uint64_t>(id);
        }
        controller_config c;
        c.self = id;
        c.voters = voters;
        c.rpc_listen = {"127.0.0.1", ports[id]};
        c.rpc_advertised = c.rpc_listen;
        c.kafka_advertised = {"127.0.0.1", static_cast<uint16_t>(19000 + id)};
        c.dir = dir / std::to_string(id);
        c.dir_id = dir_ids[id];
        c.tick_ms = 20;
        c.election_ticks = 10;
        c.heartbeat_interval_ms = 100;
        c.session_timeout_ms = session_timeout_ms;
        c.snapshot_every_entries = snapshot_every;
        c.on_fatal = [this](const std::string& m) {
            fatal_message = m;
            ++fatal_calls;
        };
        return c;
    }

    controller& start(core::node_id id) {
        auto c = controller::open(config_of(id));
        EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
        auto& slot = nodes[id];
        slot = std::move(*c);
        EXPECT_TRUE(slot->start().has_value());
        return *slot;
    }
    void start_all() {
        for (core::node_id id = 1; id <= 3; ++id) {
            start(id);
        }
    }

    // Submits at `id` and waits for the answer.
    controller_response ask(core::node_id id, controller_request r,
                            std::chrono::milliseconds timeout = 5s) {
        std::promise<controller_response> answer;
        auto got = answer.get_future();
        nodes.at(id)->submit(std::move(r), timeout,
                             [&answer](controller_response a) { answer.set_value(std::move(a)); });
        return got.get();
    }
    static controller_request create(const std::string& name, int32_t partitions, int16_t rf = 1) {
        return {.kind = request_kind::create_topic,
                .topic = name,
                .partitions = partitions,
                .replication_factor = rf};
    }

    bool all_live(std::initializer_list<core::node_id> ids, core::node_id at) {
        auto img = nodes.at(at)->image();
        for (core::node_id id : ids) {
            if (!img->live(id)) return false;
        }
        return true;
    }
    bool images_agree() {
        std::optional<core::image> first;
        for (auto& [id, c] : nodes) {
            core::image img = *c->image();
            img.applied_offset = 0;  // nodes may sit at different offsets with equal content
            if (!first) {
                first = img;
            } else if (!(img == *first)) {
                return false;
            }
        }
        return true;
    }
    core::node_id leader() {
        for (auto& [id, c] : nodes) {
            if (c->leader_id() == id) return id;
        }
        return -1;
    }
};

TEST_F(controllers, three_voters_agree_on_a_cluster_id_and_register_every_broker) {
    start_all();
    ASSERT_TRUE(eventually([&] { return all_live({1, 2, 3}, 1) && all_live({1, 2, 3}, 3); }));
    ASSERT_TRUE(eventually([&] { return images_agree(); }));
    auto img = nodes.at(2)->image();
    EXPECT_EQ(img->cluster_id.size(), 22u);
    EXPECT_EQ(img->brokers.at(3).kafka.port, 19003);
    EXPECT_EQ(img->brokers.at(3).rpc.port, ports[3]);
}

TEST_F(controllers, a_change_asked_of_a_follower_is_applied_there_before_the_answer) {
    start_all();
    ASSERT_TRUE(eventually([&] { return leader() != -1 && all_live({1, 2, 3}, 1); }));
    core::node_id follower = leader() == 1 ? 2 : 1;
    auto a = ask(follower, create("orders", 6, 3));
    ASSERT_EQ(a.code, errc::none) << a.message;
    const core::topic* t = nodes.at(follower)->image()->find_topic("orders");
    ASSERT_NE(t, nullptr);  // the asking node has it when it answers
    EXPECT_EQ(t->partitions.size(), 6u);
    std::map<core::node_id, int> leaders;
    for (const auto& r : t->partitions) {
        EXPECT_EQ(std::set<core::node_id>(r.begin(), r.end()).size(), 3u);
        ++leaders[r.front()];
    }
    EXPECT_EQ(leaders, (std::map<core::node_id, int>{{1, 2}, {2, 2}, {3, 2}}));
    EXPECT_EQ(ask(follower, create("orders", 1)).code, errc::topic_exists);
    EXPECT_EQ(ask(follower, create("wide", 1, 4)).code, errc::invalid_replication_factor);
    auto grown = ask(follower,
                     {.kind = request_kind::create_partitions, .topic = "orders", .partitions = 8});
    EXPECT_EQ(grown.code, errc::none) << grown.message;
    EXPECT_EQ(
        ask(follower, {.kind = request_kind::create_partitions, .topic = "orders", .partitions = 8})
            .code,
        errc::invalid_partitions);
    auto configs = ask(follower, {.kind = request_kind::set_topic_configs,
                                  .topic = "orders",
                                  .configs = {{"retention.ms", "1000"}}});
    EXPECT_EQ(configs.code, errc::none);
    EXPECT_EQ(nodes.at(follower)->image()->find_topic("orders")->configs.at("retention.ms"),
              "1000");
    EXPECT_EQ(ask(follower, {.kind = request_kind::delete_topic, .topic = "orders"}).code,
              errc::none);
    EXPECT_EQ(nodes.at(follower)->image()->find_topic("orders"), nullptr);
    EXPECT_EQ(ask(follower, {.kind = request_kind::delete_topic, .topic = "orders"}).code,
              errc::unknown_topic);
    ASSERT_TRUE(eventually([&] { return images_agree(); }));
}

TEST_F(controllers, a_create_asked_again_with_its_topic_id_is_the_same_create) {
    // A node that asks again after NOT_CONTROLLER (the leader changed while it was asked)
    // cannot know whether the first ask was carried out: the topic id it named tells.
    start_all();
    ASSERT_TRUE(eventually([&] { return leader() != -1 && all_live({1, 2, 3}, 1); }));
    core::node_id follower = leader() == 1 ? 2 : 1;
    auto ask_with = [&](const core::topic_id& id) {
        auto r = create("payments", 2, 3);
        r.keep_topic_id = id;
        return ask(follower, r);
    };
    auto id = random_topic_id();
    ASSERT_EQ(ask_with(id).code, errc::none);
    auto again = ask_with(id);
    EXPECT_EQ(again.code, errc::none) << again.message;
    const core::topic* t = nodes.at(follower)->image()->find_topic("payments");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->id, id);
    EXPECT_EQ(t->partitions.size(), 2u);                              // created once
    EXPECT_EQ(ask_with(random_topic_id()).code, errc::topic_exists);  // someone else's
    EXPECT_NE(random_topic_id(), random_topic_id());
}

TEST_F(controllers, producer_id_blocks_from_different_nodes_never_overlap) {
    start_all();
    ASSERT_TRUE(eventually([&] { return leader() != -1; }));
    std::set<int64_t> firsts;
    for (int i = 0; i < 6; ++i) {
        core::node_id at = 1 + i % 3;
        controller_request r{.kind = request_kind::allocate_producer_ids, .count = 1000};
        r.broker.id = at;
        auto a = ask(at, r);
        ASSERT_EQ(a.code, errc::none) << a.message;
        EXPECT_TRUE(firsts.insert(a.first_producer_id).second);
        EXPECT_EQ(a.first_producer_id % 1000, 0);
    }
    EXPECT_EQ(*firsts.rbegin(), 5000);
}

TEST_F(controllers, a_learner_follows_the_log_and_forwards_changes) {
    start_all();
    start(4);  // not a voter
    ASSERT_TRUE(eventually([&] { return all_live({1, 2, 3, 4}, 4); }));
    auto a = ask(4, create("from-the-learner", 4, 1));
    ASSERT_EQ(a.code, errc::none) << a.message;
    ASSERT_NE(nodes.at(4)->image()->find_topic("from-the-learner"), nullptr);
    ASSERT_TRUE(eventually([&] { return images_agree(); }));
    EXPECT_FALSE(nodes.at(4)->is_voter());
}

TEST_F(controllers, a_stopped_leader_is_replaced_and_fenced_then_unfenced_when_it_returns) {
    start_all();
    ASSERT_TRUE(eventually([&] { return leader() != -1 && all_live({1, 2, 3}, 1); }));
    core::node_id old = leader();
    core::node_id other = old == 1 ? 2 : 1;
    auto killed_at = std::chrono::steady_clock::now();
    nodes.at(old).reset();
    nodes.erase(old);
    // A clean stop says so: the broker is fenced without waiting for its session to end.
    ASSERT_TRUE(eventually([&] { return leader() != -1 && !nodes.at(other)->image()->live(old); }));
    auto took = std::chrono::steady_clock::now() - killed_at;
    EXPECT_LT(took, 10s);
    EXPECT_EQ(ask(other, create("after", 2, 2)).code, errc::none);
    start(old);
    ASSERT_TRUE(eventually([&] { return all_live({1, 2, 3}, other); }));
    ASSERT_TRUE(eventually([&] { return nodes.at(old)->image()->find_topic("after") != nullptr; }));
}

TEST_F(controllers, a_broker_whose_heartbeats_stop_is_fenced_after_its_session) {
    start_all();
    start(4);
    ASSERT_TRUE(eventually([&] { return all_live({1, 2, 3, 4}, 1); }));
    // Node 4 goes the way a crash does: no goodbye, its heartbeats just stop.
    auto gone = std::chrono::steady_clock::now();
    nodes.at(4)->stop(controller::farewell::none);
    nodes.erase(4);
    ASSERT_TRUE(eventually([&] { return !nodes.at(1)->image()->live(4); }));
    auto fenced_after = std::chrono::steady_clock::now() - gone;
    EXPECT_GE(fenced_after, std::chrono::milliseconds(session_timeout_ms - 100));  // a beat
    EXPECT_TRUE(nodes.at(1)->image()->brokers.contains(4));  // fenced, not forgotten
    // Restarted at once with the same data directory: a restart, not a duplicate.
    uint64_t before = nodes.at(1)->image()->brokers.at(4).incarnation;
    start(4);
    ASSERT_TRUE(eventually([&] { return all_live({4}, 1); }));
    EXPECT_NE(nodes.at(1)->image()->brokers.at(4).incarnation, before);
    EXPECT_EQ(fatal_calls.load(), 0);
}

TEST_F(controllers, a_second_live_process_with_a_node_id_in_use_is_refused) {
    start_all();
    ASSERT_TRUE(eventually([&] { return all_live({1, 2, 3}, 1); }));
    start(4);
    ASSERT_TRUE(eventually([&] { return all_live({4}, 1); }));
    // Another process claims node id 4 with its own data directory and address.
    auto c = config_of(4);
    c.dir = dir / "4-impostor";
    c.dir_id = 77;
    c.rpc_listen = c.rpc_advertised = {"127.0.0.1", test::reserved_port()};
    auto impostor = controller::open(c);
    ASSERT_TRUE(impostor.has_value());
    ASSERT_TRUE((*impostor)->start().has_value());
    ASSERT_TRUE(eventually([&] { return fatal_calls.load() > 0; }));
    EXPECT_NE(fatal_message.find("node id 4 is held by a live broker"), std::string::npos)
        << fatal_message;
    EXPECT_EQ(nodes.at(1)->image()->brokers.at(4).dir_id, dir_ids[4]);
}

TEST_F(controllers, a_wiped_node_catches_up_from_a_snapshot) {
    snapshot_every = 5;
    start_all();
    ASSERT_TRUE(eventually([&] { return leader() != -1 && all_live({1, 2, 3}, 1); }));
    for (int i = 0; i < 12; ++i) {
        ASSERT_EQ(ask(1, create("t" + std::to_string(i), 1)).code, errc::none);
    }
    core::node_id wiped = leader() == 3 ? 2 : 3;
    nodes.erase(wiped);
    fs::remove_all(dir / std::to_string(wiped));
    for (int i = 12; i < 20; ++i) {
        ASSERT_EQ(ask(1, create("t" + std::to_string(i), 1)).code, errc::none);
    }
    start(wiped);
    ASSERT_TRUE(eventually([&] { return nodes.at(wiped)->image()->topics.size() == 20; }));
    ASSERT_TRUE(eventually([&] { return images_agree(); }));
    EXPECT_TRUE(fs::exists(dir / std::to_string(wiped) / "group-0" / "raft_snapshot"));
}

TEST_F(controllers, a_restarted_node_replays_its_log_before_it_is_caught_up) {
    start_all();
    ASSERT_TRUE(eventually([&] { return leader() != -1 && all_live({1, 2, 3}, 2); }));
    ASSERT_EQ(ask(2, create("kept", 3, 3)).code, errc::none);
    nodes.clear();
    start_all();
    EXPECT_TRUE(nodes.at(1)->wait_caught_up(10s));
    EXPECT_NE(nodes.at(1)->image()->find_topic("kept"), nullptr);
}

TEST_F(controllers, no_leader_means_not_controller_within_the_timeout) {
    start(1);  // one voter of three: never a majority
    auto started = std::chrono::steady_clock::now();
    auto a = ask(1, create("x", 1), 500ms);
    EXPECT_EQ(a.code, errc::not_controller);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

}  // namespace
}  // namespace trib::cluster
