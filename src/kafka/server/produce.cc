// Produce: validate each partition's batches, append them, and answer by acks: 0 not at all,
// 1 once appended, -1 (all) once fsynced (one replica: the majority is this node).
#include "kafka/protocol/produce.h"

#include <chrono>

#include "base/clock.h"
#include "base/logging.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/server/handlers.h"
#include "model/record_batch.h"
#include "storage/errc.h"

namespace trib::kafka {

namespace {

namespace p = protocol;

// A batch's place in the request's records field.
struct batch_span {
    size_t offset;
    size_t size;
};

// Splits and checks a partition's records: whole v2 batches with valid CRCs, each within
// max.message.bytes, with as many records as offsets; uncompressed ones (and, for compacted
// topics, all) also record by record, with consecutive offset deltas and, if compacted, keys.
int16_t validate(std::span<const uint8_t> records, const cluster::topic_settings& s,
                 std::vector<batch_span>& batches, std::string& message) {
    size_t pos = 0;
    while (pos < records.size()) {
        auto rest = records.subspan(pos);
        auto h = model::parse_batch_header(rest);
        if (!h) {
            if (rest.size() > 16 && rest[16] != 2) {
                message = "only record batches of magic 2 are accepted";
                return error_code::unsupported_for_message_format;
            }
            message = "malformed record batch";
            return error_code::corrupt_message;
        }
        if (h->size_bytes() > s.log.max_batch_bytes) {
            message = "record batch larger than max.message.bytes";
            return error_code::message_too_large;
        }
        auto verified = model::verify_batch(rest);
        if (!verified) {
            message = "record batch CRC mismatch";
            return error_code::corrupt_message;
        }
        if (h->record_count != h->last_offset_delta + 1 || h->record_count == 0 ||
            h->is_control()) {
            message = "record count does not match the batch's offsets";
            return error_code::invalid_record;
        }
        auto batch = rest.subspan(0, h->size_bytes());
        if (h->codec() == model::compression::none || s.log.cleanup_compact) {
            int32_t expected_delta = 0;
            bool keys_ok = true;
            auto st = model::for_each_record(batch, size_t{s.log.max_batch_bytes} * 64,
                                             [&](const model::record_view& r) {
                                                 if (r.offset_delta != expected_delta) {
                                                     expected_delta = -1;
                                                 } else {
                                                     ++expected_delta;
                                                 }
                                                 if (!r.key) keys_ok = false;
                                             });
            if (!st || expected_delta != h->record_count) {
                message = "records inside the batch are malformed or not consecutive";
                return error_code::invalid_record;
            }
            if (s.log.cleanup_compact && !keys_ok) {
                message = "a compacted topic takes only records with keys";
                return error_code::invalid_record;
            }
        }
        batches.push_back({pos, h->size_bytes()});
        pos += h->size_bytes();
    }
    if (batches.empty()) {
        message = "no record batch";
        return error_code::corrupt_message;
    }
    return error_code::none;
}

int16_t append_error(const std::error_code& ec) {
    if (ec == storage::errc::batch_too_large) return error_code::message_too_large;
    if (ec == storage::errc::invalid_batch) return error_code::corrupt_message;
    return error_code::kafka_storage_error;
}

}  // namespace

// Waits until everything up to `last_offset` is fsynced or the deadline passes.
asio::awaitable<int16_t> wait_durable(request_context& ctx, cluster::partition& part,
                                      int64_t last_offset,
                                      std::chrono::steady_clock::time_point deadline) {
    auto event = std::make_shared<net::async_event>(ctx.executor);
    for (;;) {
        if (part.log().failed()) co_return error_code::kafka_storage_error;
        if (part.log().flushed_offset() > last_offset) co_return error_code::none;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) co_return error_code::request_timed_out;
        part.add_waiter(event);
        ctx.b.partitions.request_flush(part);
        co_await event->wait_until(deadline);
    }
}

asio::awaitable<std::optional<p::produce_response>> handle_produce(request_context& ctx,
                                                                   p::produce_request& req) {
    auto& b = ctx.b;
    p::produce_response resp;
    bool valid_acks = req.acks == 0 || req.acks == 1 || req.acks == -1;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(std::max<int32_t>(req.timeout_ms, 0));
    struct pending {
        size_t topic;  // indexes into resp: the vectors grow while the request is read
        size_t partition;
        std::shared_ptr<cluster::partition> part;
        int64_t last_offset;
    };
    std::vector<pending> durable;
    for (auto& topic : req.topic_data) {
        auto& topic_out = resp.responses.emplace_back();
        topic_out.name = topic.name;
        int16_t topic_error = ensure_topic(b, topic.name, true);
        for (auto& data : topic.partition_data) {
            auto& out = topic_out.partition_responses.emplace_back();
            out.index = data.index;
            out.base_offset = -1;
            if (!valid_acks) {
                out.error_code = error_code::invalid_required_acks;
                continue;
            }
            auto part = topic_error == error_code::none ? b.partitions.get(topic.name, data.index)
                                                        : nullptr;
            if (!part) {
                out.error_code = topic_error == error_code::none
                                     ? error_code::unknown_topic_or_partition
                                     : topic_error;
                continue;
            }
            auto settings = part->settings();
            std::vector<batch_span> batches;
            std::string message;
            std::span<uint8_t> records;
            if (data.records) records = *data.records;
            out.error_code = validate(records, settings, batches, message);
            if (out.error_code != error_code::none) {
                if (ctx.version() >= 8) out.error_message = message;
                continue;
            }
            int64_t now = wall_clock_ms();
            int64_t last = -1;
            for (size_t i = 0; i < batches.size(); ++i) {
                auto batch = records.subspan(batches[i].offset, batches[i].size);
                model::set_partition_leader_epoch(batch, 0);
                if (settings.log_append_time) model::set_log_append_time(batch, now);
                auto appended = part->log().append(batch, now);
                if (!appended) {
                    out.error_code = append_error(appended.error());
                    break;
                }
                if (i == 0) out.base_offset = appended->base_offset;
                last = appended->last_offset;
            }
            if (last >= 0) {
                part->wake_waiters();
                b.partitions.appended(*part);
            }
            if (out.error_code != error_code::none) continue;
            if (settings.log_append_time) out.log_append_time_ms = now;
            out.log_start_offset = part->log().start_offset();
            if (req.acks == -1) {
                durable.push_back({resp.responses.size() - 1,
                                   topic_out.partition_responses.size() - 1, part, last});
            }
        }
    }
    for (auto& d : durable) {
        auto code = co_await wait_durable(ctx, *d.part, d.last_offset, deadline);
        resp.responses[d.topic].partition_responses[d.partition].error_code = code;
    }
    if (req.acks == 0) co_return std::nullopt;
    co_return resp;
}

}  // namespace trib::kafka
