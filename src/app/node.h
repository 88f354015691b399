// A running Tributary node: owns the data directory, the topics and their logs, the shards
// (event loops) and the Kafka listener, and runs until SIGINT or SIGTERM asks it to stop.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "app/config.h"
#include "app/data_dir.h"

namespace trib::admin {
class admin_server;
}
namespace trib::cluster {
class controller;
class partition_manager;
class producer_id_allocator;
}  // namespace trib::cluster
namespace trib::net {
class shard_pool;
}
namespace trib::kafka {
struct broker;
namespace groups {
class group_manager;
}
class server;
}  // namespace trib::kafka

namespace trib::app {

// Blocks SIGINT and SIGTERM in the calling thread (and the threads it will start). Called first
// in main(): a shutdown signal that arrives while the node is still starting stays pending and
// is handled once run_until_signal() listens, instead of killing the process mid-start.
void defer_shutdown_signals();

class node {
  public:
    explicit node(config cfg);
    ~node();

    // Takes the data directory, starts the controller and waits until it has applied what
    // this node knew before (a SIGINT or SIGTERM meanwhile gives up), upgrades a single-node
    // metadata.json into the controller log once, opens this node's partitions (recovering
    // their logs) and binds the Kafka listener; fails with a message for the operator.
    result<void, error> start();

    // Serves until a shutdown signal arrives (including one deferred during start), then
    // stops cleanly: leaderships handed over, no new connections, the loops stop, every log
    // is flushed. Fails when the
    // node had to stop for another reason (its node id is held by another live process).
    result<void, error> run_until_signal();

  private:
    result<void, error> wait_for_controller();
    result<void, error> upgrade_single_node_metadata();
    // A clean stop first hands the partitions this node leads to live followers (up to 3 s).
    void hand_over_leaderships();

    config _cfg;
    data_dir_lock _data_dir;
    // Declared in the order they are built; destroyed in reverse.
    std::unique_ptr<cluster::partition_manager> _partitions;
    std::unique_ptr<cluster::controller> _controller;
    std::unique_ptr<kafka::groups::group_manager> _groups;
    std::unique_ptr<cluster::producer_id_allocator> _producer_ids;
    std::unique_ptr<kafka::broker> _broker;
    std::unique_ptr<net::shard_pool> _shards;
    std::unique_ptr<kafka::server> _server;
    std::unique_ptr<admin::admin_server> _admin;
    std::atomic<bool> _kafka_serving{false};  // the Kafka listener accepts (readiness)
    std::atomic<bool> _serving{false};        // partitions follow the controller's image
    std::atomic<bool> _groups_open{false};    // _groups is set (read on the Raft loop)
    std::mutex _fatal_mutex;
    std::string _fatal;  // why the node stops by itself
};

}  // namespace trib::app
