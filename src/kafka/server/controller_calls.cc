#include "kafka/server/controller_calls.h"

#include <algorithm>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "cluster/controller.h"
#include "kafka/protocol/error_codes.h"
#include "net/later.h"

namespace trib::kafka {

namespace {

asio::awaitable<cluster::controller_response> submit_once(request_context& ctx,
                                                          cluster::controller_request request,
                                                          std::chrono::milliseconds timeout) {
    auto answer = std::make_shared<net::later<cluster::controller_response>>(ctx.executor);
    ctx.b.controller->submit(std::move(request), timeout, [answer](cluster::controller_response r) {
        answer->set(std::move(r));
    });
    co_return co_await answer->get();
}

}  // namespace

asio::awaitable<cluster::controller_response> ask_controller(request_context& ctx,
                                                             cluster::controller_request request,
                                                             std::chrono::milliseconds timeout) {
    // NOT_CONTROLLER comes back when the controller leader changed while it was asked, and
    // librdkafka's admin calls hand it to the application as a failure: as Kafka's brokers
    // do when they forward, ask the next leader until the time is up. The change may have
    // been made already: a create names its topic id, which the leader recognises, and a
    // delete that finds the topic gone after such an answer is done.
    if (request.kind == cluster::request_kind::create_topic && !request.keep_topic_id) {
        request.keep_topic_id = cluster::random_topic_id();
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool unsure = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        auto r = co_await submit_once(ctx, request, std::max(left, std::chrono::milliseconds(1)));
        if (unsure && request.kind == cluster::request_kind::delete_topic &&
            r.code == cluster::errc::unknown_topic) {
            r = {.offset = r.offset};
        }
        if (r.code != cluster::errc::not_controller || ctx.b.controller->stopping() ||
            std::chrono::steady_clock::now() + retry_pause >= deadline) {
            co_return r;
        }
        unsure = true;
        asio::steady_timer pause(ctx.executor, retry_pause);
        std::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
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
