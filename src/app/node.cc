#include "app/node.h"

#include <csignal>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <pthread.h>

#include "base/assert.h"
#include "base/logging.h"

namespace trib::app {

namespace {

sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

}  // namespace

void defer_shutdown_signals() {
    auto set = shutdown_signals();
    TRIB_ASSERT(pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0);
}

result<void, error> node::start() {
    _data_dir = TRIB_TRY(open_data_dir(_cfg.data_dir, _cfg.node_id));
    return {};
}

void node::run_until_signal() {
    auto log = log::get("app");
    asio::io_context io(1);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int signal_number) {
        if (ec) return;
        log->info("shutting down signal={}", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
        io.stop();
    });
    // The handler is installed: a signal that came during start is delivered now.
    auto set = shutdown_signals();
    TRIB_ASSERT(pthread_sigmask(SIG_UNBLOCK, &set, nullptr) == 0);
    log->info("node started node_id={} data_dir={}", _cfg.node_id, _cfg.data_dir.string());
    io.run();
    log->info("node stopped");
}

}  // namespace trib::app
