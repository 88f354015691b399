// The admin HTTP API of a node (its own listener, off the Kafka port; loopback by default):
// JSON views of the cluster, brokers, topics and this node's partitions, liveness and
// readiness probes, the log level at run time, and Prometheus metrics at /metrics. Served
// by cpp-httplib on its own two threads: nothing here runs on, or waits for, a Kafka shard;
// it reads the controller's published image and the partitions' thread-safe accessors.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/result.h"

namespace trib::cluster {
class controller;
class partition_manager;
}  // namespace trib::cluster

namespace trib::kafka::groups {
class group_manager;
}

namespace trib::admin {

// What the API reads, wired by the app.
struct sources {
    cluster::controller* controller = nullptr;
    cluster::partition_manager* partitions = nullptr;
    kafka::groups::group_manager* groups = nullptr;  // the groups this node coordinates
    int32_t self = -1;
    std::string version;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::function<bool()> serving;     // the node has started and serves Kafka clients
    std::function<int()> connections;  // Kafka connections open now
    std::function<size_t()> request_memory_in_use;
    size_t request_memory_limit = 0;
    std::function<size_t()> flushes_waiting;  // Raft logs waiting for a sync thread
};

class admin_server {
  public:
    // Binds host:port (port 0: a free one) and starts serving; fails with a message for
    // operators when the address cannot be bound.
    static result<std::unique_ptr<admin_server>, error> start(const std::string& host,
                                                              uint16_t port, sources src);
    ~admin_server();
    uint16_t port() const { return _port; }
    void stop();

  private:
    struct impl;
    explicit admin_server(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
    uint16_t _port = 0;
};

}  // namespace trib::admin
