// One node's Raft loop for the partition manager's tests: a host (not listening: the
// partitions here have this node as their only replica), a partition manager bound to it,
// and helpers that drive the loop on the test's thread until something happens. One
// raft_loop is one process: a restart is a new one on the same directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "cluster/partition_manager.h"
#include "raft/host.h"

namespace trib::cluster::test {

class raft_loop {
  public:
    explicit raft_loop(const std::filesystem::path& data_dir, core::node_id self = 1)
        : _data_dir(data_dir), _self(self), _host(_loop, host_config(data_dir, self)) {}
    ~raft_loop() {
        if (_pm) {
            _pm->close_all();
            _pm.reset();
        }
        _host.stop();
        _work.reset();
        _loop.poll();
    }

    partition_manager& open(topic_defaults defaults = {},
                            std::chrono::milliseconds cleaner_interval = std::chrono::hours(1)) {
        auto pm = partition_manager::open(_data_dir, defaults, cleaner_interval);
        EXPECT_TRUE(pm.has_value()) << (pm ? "" : pm.error().message);
        _pm = std::move(*pm);
        _pm->bind({.host = &_host,
                   .post = [this](std::function<void()> fn) { asio::post(_loop, std::move(fn)); },
                   .self = _self,
                   .tick_ms = 100,
                   .election_ticks = 5,
                   .finish_move = finish_move});
        return *_pm;
    }
    partition_manager& pm() { return *_pm; }
    // What the partitions' leaders report of their moves (set before open).
    std::function<void(const std::string&, int32_t, std::vector<int32_t>)> finish_move;
    // Closes the manager's partitions (as a stopping node does) and forgets it.
    void close() {
        _pm->close_all();
        _pm.reset();
    }

    // Runs the loop until `done()` or `limit` passes; returns done().
    bool drive(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (_loop.poll() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return done();
    }
    // Runs `n` ticks of the partition's Raft group (this host does not tick by itself).
    void tick(const partition& p, int n = 1) {
        for (int i = 0; i < n; ++i) {
            if (raft::group* g = _host.find(p.group())) {
                g->tick();
                g->pump();
            }
            drive([] { return false; }, std::chrono::milliseconds(2));
        }
    }
    // Until the partition's replica here leads and serves produce.
    bool until_leading(const partition& p) {
        return drive([&] { return p.leader().ready; });
    }
    // Replicates one batch and waits for the answer.
    replicate_result write(partition& p, std::vector<uint8_t> batch,
                           acks_level acks = acks_level::all, int32_t min_insync = 1) {
        std::optional<replicate_result> answer;
        replicate_request r{.acks = acks,
                            .deadline_ms = steady_clock_ms() + 5000,
                            .min_insync = min_insync,
                            .now_ms = wall_clock_ms()};
        r.batches.push_back(std::move(batch));
        p.replicate(std::move(r), [&](replicate_result got) { answer = got; });
        EXPECT_TRUE(drive([&] { return answer.has_value(); })) << "no answer";
        return answer.value_or(replicate_result{.code = replicate_errc::timed_out});
    }

  private:
    static raft::host_config host_config(const std::filesystem::path& dir, core::node_id self) {
        raft::host_config c;
        c.id = self;
        c.peers[self] = {"127.0.0.1", 0};
        c.dir = dir / "raft-host";
        c.flush_threads = 1;
        return c;
    }

    std::filesystem::path _data_dir;
    core::node_id _self;
    asio::io_context _loop{1};
    // Keeps poll() working while the loop is idle between flushes (an io_context out of
    // work stops until restarted).
    asio::executor_work_guard<asio::io_context::executor_type> _work{_loop.get_executor()};
    raft::host _host;
    std::unique_ptr<partition_manager> _pm;
};

}  // namespace trib::cluster::test
