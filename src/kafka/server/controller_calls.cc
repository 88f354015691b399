#include "kafka/server/controller_calls.h"

#include <algorithm>

#include "cluster/controller.h"
#include "kafka/protocol/error_codes.h"
#include "net/later.h"

namespace trib::kafka {

asio::awaitable<cluster::controller_response> ask_controller(request_context& ctx,
                                                             cluster::controller_request request,
                                                             std::chrono::milliseconds timeout) {
    auto answer = std::make_shared<net::later<cluster::controller_response>>(ctx.executor);
    ctx.b.controller->submit(std::move(request), timeout, [answer](cluster::controller_response r) {
        answer->set(std::move(r));
    });
    co_return co_await answer->get();
}

std::chrono::milliseconds controller_timeout(int32_t timeout_ms) {
    // A zero or tiny timeout still gets the round trip a change needs.
    return std::clamp(std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(1000),
                      max_controller_wait);
}

error error_of(const cluster::controller_response& r) {
    if (r.code == cluster::errc::none) {
        return {};
    }
    return error{make_error_code(r.code), r.message};
}

asio::awaitable<int16_t> ensure_topic(request_context& ctx, const std::string& topic,
                                      bool client_allows) {
    auto& b = ctx.b;
    if (b.partitions.topic(topic)) co_return error_code::none;
    if (auto valid = cluster::validate_topic_name(topic); !valid) {
        co_return error_code::invalid_topic_exception;
    }
    if (!b.config.auto_create_topics || !client_allows) {
        co_return error_code::unknown_topic_or_partition;
    }
    // Built before the co_await: g++ 12 mishandles braced temporaries in co_await arguments.
    cluster::controller_request request{.kind = cluster::request_kind::create_topic,
                                        .topic = topic,
                                        .partitions = b.config.default_partitions};
    auto r = co_await ask_controller(ctx, std::move(request));
    if (r.code == cluster::errc::none || r.code == cluster::errc::topic_exists) {
        co_return error_code::none;
    }
    // Not there yet: the client asks again (as Kafka answers while it creates one).
    co_return error_code::leader_not_available;
}

}  // namespace trib::kafka
