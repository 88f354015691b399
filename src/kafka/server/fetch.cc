// Fetch (with long polling and byte limits) and ListOffsets.
#include "kafka/protocol/fetch.h"

#include <chrono>

#include "kafka/protocol/list_offsets.h"
#include "kafka/server/error_codes.h"
#include "kafka/server/handlers.h"
#include "storage/errc.h"

namespace trib::kafka {

namespace {

namespace p = protocol;
using fetch_response = p::fetch_response;

constexpr int64_t latest_timestamp = -1;
constexpr int64_t earliest_timestamp = -2;

int16_t read_error(const std::error_code& ec) {
    if (ec == storage::errc::offset_out_of_range) return error_code::offset_out_of_range;
    if (ec == storage::errc::corrupt_data) return error_code::corrupt_message;
    return error_code::kafka_storage_error;
}

struct partition_seen {
    std::shared_ptr<cluster::partition> part;
    int64_t high_watermark;  // when it was read
};

// One pass over the requested partitions. Returns the bytes gathered; `parts` collects the
// partitions read, so a long poll can wait on them.
size_t read_all(request_context& ctx, const p::fetch_request& req, fetch_response& resp,
                std::vector<partition_seen>& parts, bool& any_error) {
    auto& pm = ctx.b.partitions;
    size_t total = 0;
    size_t budget = static_cast<size_t>(std::max(req.max_bytes, 0));
    for (const auto& topic : req.topics) {
        auto& topic_out = resp.responses.emplace_back();
        topic_out.topic = topic.topic;
        topic_out.topic_id = topic.topic_id;
        std::string name = topic.topic;
        bool unknown_id = false;
        if (ctx.version() >= 13) {
            auto t = pm.topic_by_id(topic.topic_id.value);
            unknown_id = !t;
            if (t) name = t->name;
        }
        for (const auto& fp : topic.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition_index = fp.partition;
            out.records.emplace();  // empty, not null, as Kafka sends (librdkafka relies on it)
            auto part = unknown_id ? nullptr : pm.get(name, fp.partition);
            if (!part) {
                out.error_code = unknown_id ? error_code::unknown_topic_id
                                            : error_code::unknown_topic_or_partition;
                any_error = true;
                continue;
            }
            auto& log = part->log();
            int64_t hw = part->high_watermark();
            parts.push_back({part, hw});
            out.high_watermark = hw;
            out.last_stable_offset = hw;
            out.log_start_offset = log.start_offset();
            if (fp.fetch_offset < out.log_start_offset || fp.fetch_offset > hw) {
                out.error_code = error_code::offset_out_of_range;
                any_error = true;
                continue;
            }
            if (fp.fetch_offset == hw || fp.partition_max_bytes <= 0) continue;
            // The first batch of the response is returned whole even past the limits, so a
            // consumer can always make progress (KIP-74).
            size_t limit = std::min<size_t>(static_cast<size_t>(fp.partition_max_bytes),
                                            budget > total ? budget - total : 0);
            if (limit == 0 && total > 0) continue;
            auto got =
                log.read(fp.fetch_offset, total == 0 ? std::max<size_t>(limit, 1) : limit, hw);
            if (!got) {
                out.error_code = read_error(got.error());
                any_error = true;
                continue;
            }
            total += got->data.size();
            out.records = std::move(got->data);
        }
    }
    return total;
}

}  // namespace

asio::awaitable<fetch_response> handle_fetch(request_context& ctx, p::fetch_request& req) {
    fetch_response resp;
    // Incremental fetch sessions (KIP-227) are not offered: a client asking for a new one is
    // told session 0 and keeps sending full requests, as the protocol allows; a request in a
    // session we never created is refused.
    if (req.session_id != 0) {
        resp.error_code = error_code::fetch_session_id_not_found;
        co_return resp;
    }
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(req.max_wait_ms, 0));
    auto event = std::make_shared<net::async_event>(ctx.executor);
    for (;;) {
        resp.responses.clear();
        std::vector<partition_seen> parts;
        bool any_error = false;
        size_t bytes = read_all(ctx, req, resp, parts, any_error);
        auto now = std::chrono::steady_clock::now();
        if (any_error || bytes >= static_cast<size_t>(std::max(req.min_bytes, 1)) ||
            now >= deadline || parts.empty()) {
            co_return resp;
        }
        // Data that arrived between the read and the registration is caught by the check.
        bool moved = false;
        for (const auto& seen : parts) {
            seen.part->add_waiter(event);
            moved = moved || seen.part->high_watermark() != seen.high_watermark;
        }
        if (moved) continue;
        co_await event->wait_until(deadline);
    }
}

asio::awaitable<p::list_offsets_response> handle_list_offsets(request_context& ctx,
                                                              p::list_offsets_request& req) {
    p::list_offsets_response resp;
    for (const auto& topic : req.topics) {
        auto& topic_out = resp.topics.emplace_back();
        topic_out.name = topic.name;
        for (const auto& lp : topic.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition_index = lp.partition_index;
            auto part = ctx.b.partitions.get(topic.name, lp.partition_index);
            if (!part) {
                out.error_code = error_code::unknown_topic_or_partition;
                continue;
            }
            int64_t offset = -1;
            int64_t timestamp = -1;
            if (lp.timestamp == latest_timestamp) {
                offset = part->high_watermark();
            } else if (lp.timestamp == earliest_timestamp) {
                offset = part->log().start_offset();
            } else if (lp.timestamp >= 0) {
                auto found = part->log().offset_for_timestamp(lp.timestamp);
                if (!found) {
                    out.error_code = read_error(found.error());
                    continue;
                }
                if (*found && (*found)->offset < part->high_watermark()) {
                    offset = (*found)->offset;
                    timestamp = (*found)->timestamp;
                }
            } else {
                out.error_code = error_code::invalid_request;  // -3 (max timestamp) is v7+
                continue;
            }
            if (ctx.version() == 0) {
                if (offset >= 0) out.old_style_offsets.push_back(offset);
            } else {
                out.offset = offset;
                out.timestamp = timestamp;
                if (ctx.version() >= 4) out.leader_epoch = 0;
            }
        }
    }
    co_return resp;
}

}  // namespace trib::kafka
