// A running Tributary node: owns the data directory and the event loop, and runs until
// SIGINT or SIGTERM asks it to stop.
#pragma once

#include "app/config.h"
#include "app/data_dir.h"

namespace trib::app {

// Blocks SIGINT and SIGTERM in the calling thread (and the threads it will start). Called first
// in main(): a shutdown signal that arrives while the node is still starting stays pending and
// is handled once run_until_signal() listens, instead of killing the process mid-start.
void defer_shutdown_signals();

class node {
  public:
    explicit node(config cfg) : _cfg(std::move(cfg)) {}

    // Takes the data directory; fails with a message for the operator.
    result<void, error> start();

    // Serves until a shutdown signal arrives (including one deferred during start), then
    // stops cleanly.
    void run_until_signal();

  private:
    config _cfg;
    data_dir_lock _data_dir;
};

}  // namespace trib::app
