// Handlers' way to the controller: a change asked of the controller leader (wherever it is),
// awaited on the connection's loop and answered once this node has applied it, so a client
// that creates a topic and then asks this node for Metadata sees it.
#pragma once

#include <chrono>
#include <string>

#include <asio/awaitable.hpp>

#include "cluster/controller_rpc.h"
#include "kafka/server/broker.h"

namespace trib::kafka {

// The longest a handler waits for the controller, whatever the request's own timeout says.
constexpr std::chrono::milliseconds max_controller_wait{30'000};
// Between asking a controller leader that no longer leads and asking again.
constexpr std::chrono::milliseconds retry_pause{200};

// Asked again while the answer is NOT_CONTROLLER and `timeout` allows.
asio::awaitable<cluster::controller_response> ask_controller(
    request_context& ctx, cluster::controller_request request,
    std::chrono::milliseconds timeout = max_controller_wait);

// A request timeout from a client (CreateTopics' timeout_ms and the like), bounded.
std::chrono::milliseconds controller_timeout(int32_t timeout_ms);

// The answer as an error for error_code_of (code none: success).
error error_of(const cluster::controller_response& r);

// Auto-creates `topic` if the broker allows it; returns the error code for the client
// (none when it exists now).
asio::awaitable<int16_t> ensure_topic(request_context& ctx, const std::string& topic,
                                      bool client_allows);

}  // namespace trib::kafka
