// Produce: validate each partition's batches (up-converting magic 0/1 message sets and
// recompressing to the topic's compression.type, as Kafka does), hand them to the partition's
// leader replica, and answer by acks: 0 not at all, 1 once the leader has appended them, -1
// (all) once committed on a majority of the replicas.
#include "kafka/protocol/produce.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "cluster/producer_ids.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/protocol/init_producer_id.h"
#include "kafka/server/controller_calls.h"
#include "kafka/server/handlers.h"
#include "kafka/server/request_metrics.h"
#include "model/legacy_messages.h"
#include "model/record_batch.h"
#include "net/later.h"
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
                message = "a record batch of magic 2 cannot be followed by another magic";
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

// A partition's batches as the broker stores them: those of the request, or rewritten
// ones it owns (magic 0/1 message sets up-converted, batches recompressed to the topic's
// compression.type), as Kafka 3.x's LogValidator does.
struct prepared_records {
    std::vector<std::span<uint8_t>> batches;
    std::vector<std::vector<uint8_t>> owned;
    std::vector<p::produce_response::batch_index_and_error_message> record_errors;
};

size_t max_decompressed(const cluster::topic_settings& s) {
    return size_t{s.log.max_batch_bytes} * 64;
}

// Checks a CreateTime batch's record timestamps against the topic's bounds around `now`
// (message.timestamp.before/after.max.ms); each record out of range is one record error.
int16_t check_timestamps(std::span<const uint8_t> batch, const cluster::topic_settings& s,
                         int64_t now, prepared_records& out) {
    if (s.log_append_time ||
        (s.timestamp_before_max_ms == INT64_MAX && s.timestamp_after_max_ms == INT64_MAX)) {
        return error_code::none;
    }
    auto h = model::parse_batch_header(batch);
    TRIB_ASSERT(h.has_value());  // validated
    int32_t index = 0;
    auto st = model::for_each_record(batch, max_decompressed(s), [&](const model::record_view& r) {
        __int128 ts = static_cast<__int128>(h->base_timestamp) + r.timestamp_delta;
        __int128 behind = static_cast<__int128>(now) - ts;
        if (ts != -1 &&
            (behind > s.timestamp_before_max_ms || -behind > s.timestamp_after_max_ms)) {
            out.record_errors.push_back(
                {index,
                 fmt::format(
                     "Timestamp {} of message with offset {} is out of range. The timestamp "
                     "should be within [{}, {}]",
                     static_cast<int64_t>(ts), index,
                     now - std::min(now, s.timestamp_before_max_ms),
                     s.timestamp_after_max_ms > INT64_MAX - now ? INT64_MAX
                                                                : now + s.timestamp_after_max_ms),
                 {}});
        }
        ++index;
    });
    if (!st) return error_code::corrupt_message;
    return out.record_errors.empty() ? error_code::none : error_code::invalid_timestamp;
}

// Up-converts, validates, recompresses and checks timestamps: what the partition appends.
int16_t prepare(std::span<uint8_t> records, int16_t version, const cluster::topic_settings& s,
                int64_t now, prepared_records& out, std::string& message) {
    if (model::is_legacy_message_set(records)) {
        if (version >= 3) {  // as Kafka's ProduceRequest.validateRecords
            message = fmt::format(
                "Produce requests with version {} are only allowed to contain "
                "record batches with magic version 2",
                version);
            return error_code::invalid_record;
        }
        auto set = model::read_legacy_messages(records, max_decompressed(s));
        if (!set) {
            message = "malformed message set: " + set.error().message();
            return set.error() == model::errc::bad_crc ? error_code::corrupt_message
                                                       : error_code::invalid_record;
        }
        model::batch_options o;
        o.codec = s.compression.value_or(set->codec);
        auto built = model::build_batch(o, set->records);
        if (!built) {
            message = "cannot convert the message set: " + built.error().message();
            return error_code::invalid_record;
        }
        records = out.owned.emplace_back(std::move(*built));
    }
    std::vector<batch_span> spans;
    if (auto code = validate(records, s, spans, message); code != error_code::none) return code;
    for (const auto& span : spans) {
        auto batch = records.subspan(span.offset, span.size);
        auto h = model::parse_batch_header(batch);
        TRIB_ASSERT(h.has_value());  // validated
        if (s.compression && h->codec() != *s.compression) {
            auto rebuilt = model::recompress_batch(batch, *s.compression, max_decompressed(s));
            if (!rebuilt) {
                message = "cannot recompress the batch: " + rebuilt.error().message();
                return error_code::corrupt_message;
            }
            if (rebuilt->size() > s.log.max_batch_bytes) {
                message = "record batch larger than max.message.bytes once recompressed";
                return error_code::message_too_large;
            }
            batch = out.owned.emplace_back(std::move(*rebuilt));
        }
        if (auto code = check_timestamps(batch, s, now, out); code != error_code::none) {
            message = "One or more records have been rejected due to invalid timestamp";
            return code;
        }
        out.batches.push_back(batch);
    }
    return error_code::none;
}

int16_t sequence_error(cluster::sequence_verdict v) {
    switch (v) {
        case cluster::sequence_verdict::out_of_order:
            return error_code::out_of_order_sequence_number;
        case cluster::sequence_verdict::invalid_epoch:
            return error_code::invalid_producer_epoch;
        case cluster::sequence_verdict::unknown_producer:
            return error_code::unknown_producer_id;
        case cluster::sequence_verdict::append:
        case cluster::sequence_verdict::duplicate:
            break;
    }
    return error_code::none;
}

cluster::acks_level acks_of(int16_t acks, bool canary_ack_before_commit) {
    if (acks == 0) return cluster::acks_level::none;
    if (acks == 1 || canary_ack_before_commit) return cluster::acks_level::leader;
    return cluster::acks_level::all;
}

}  // namespace

// What a replicated write's outcome means to a Kafka client (CLUSTER_PROTOCOL.md: every
// one of them retriable except the sequence errors, and never UNKNOWN_SERVER_ERROR).
int16_t replicate_error(const cluster::replicate_result& r) {
    switch (r.code) {
        case cluster::replicate_errc::none:
            return error_code::none;
        case cluster::replicate_errc::not_leader:
            return error_code::not_leader_or_follower;
        case cluster::replicate_errc::not_enough_replicas:
            return error_code::not_enough_replicas;
        case cluster::replicate_errc::timed_out:
            return error_code::request_timed_out;
        case cluster::replicate_errc::storage_error:
            return error_code::kafka_storage_error;
        case cluster::replicate_errc::invalid_batch:
            return error_code::corrupt_message;
        case cluster::replicate_errc::sequence:
            return sequence_error(r.verdict);
    }
    return error_code::kafka_storage_error;
}

asio::awaitable<std::optional<p::produce_response>> handle_produce(request_context& ctx,
                                                                   p::produce_request& req) {
    auto& b = ctx.b;
    p::produce_response resp;
    bool valid_acks = req.acks == 0 || req.acks == 1 || req.acks == -1;
    struct pending {
        size_t topic;  // indexes into resp: the vectors grow while the request is read
        size_t partition;
        std::shared_ptr<net::later<cluster::replicate_result>> answer;
        int64_t log_append_time = -1;
        std::shared_ptr<cluster::partition> part;
    };
    std::vector<pending> waiting;
    for (auto& topic : req.topic_data) {
        auto& topic_out = resp.responses.emplace_back();
        topic_out.name = topic.name;
        int16_t topic_error = is_internal_topic(topic.name)
                                  ? error_code::invalid_topic_exception
                                  : co_await ensure_topic(ctx, topic.name, true);
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
                                     ? missing_partition_error(b, topic.name, data.index)
                                     : topic_error;
                continue;
            }
            if (!part->leader().local) {
                out.error_code = error_code::not_leader_or_follower;
                continue;
            }
            auto settings = part->settings();
            prepared_records prepared;
            std::string message;
            std::span<uint8_t> records;
            if (data.records) records = *data.records;
            int64_t now = wall_clock_ms();
            out.error_code = prepare(records, ctx.version(), settings, now, prepared, message);
            if (out.error_code != error_code::none) {
                if (ctx.version() >= 8) {
                    out.error_message = message;
                    out.record_errors = std::move(prepared.record_errors);
                }
                continue;
            }
            cluster::replicate_request write{
                .acks = acks_of(req.acks, ctx.b.config.canary_ack_before_commit),
                .deadline_ms = steady_clock_ms() + std::max<int32_t>(req.timeout_ms, 0),
                .min_insync = settings.min_insync_replicas,
                .now_ms = now};
            size_t bytes = 0;
            for (auto batch : prepared.batches) {
                auto h = model::parse_batch_header(batch);
                TRIB_ASSERT(h.has_value());   // validated
                if (h->is_transactional()) {  // no transactions yet
                    out.error_code = error_code::invalid_txn_state;
                    break;
                }
                if (settings.log_append_time) model::set_log_append_time(batch, now);
                write.batches.emplace_back(batch.begin(), batch.end());
                bytes += batch.size();
            }
            if (out.error_code != error_code::none) continue;
            record_topic_bytes(true, topic.name, bytes);
            auto answer = std::make_shared<net::later<cluster::replicate_result>>(ctx.executor);
            part->replicate(std::move(write),
                            [answer](cluster::replicate_result r) { answer->set(r); });
            waiting.push_back({resp.responses.size() - 1, topic_out.partition_responses.size() - 1,
                               answer, settings.log_append_time ? now : -1, part});
        }
    }
    if (req.acks == 0) co_return std::nullopt;
    for (auto& w : waiting) {
        auto result = co_await w.answer->get();
        auto& out = resp.responses[w.topic].partition_responses[w.partition];
        out.error_code = replicate_error(result);
        if (out.error_code != error_code::none) {
            if (ctx.version() >= 8 && result.code == cluster::replicate_errc::not_enough_replicas) {
                out.error_message = "too few replicas in sync to take the write now";
            }
            continue;
        }
        out.base_offset = result.base_offset;
        out.log_append_time_ms = w.log_append_time;
        out.log_start_offset = w.part->log_start();
    }
    co_return resp;
}

}  // namespace trib::kafka

namespace trib::kafka {

asio::awaitable<p::init_producer_id_response> handle_init_producer_id(
    request_context& ctx, p::init_producer_id_request& req) {
    p::init_producer_id_response resp;
    if (req.transactional_id) {
        // Transactions need a transaction coordinator; FindCoordinator already refuses one,
        // so a client only gets here by skipping it: it fails as fast.
        resp.error_code = error_code::transactional_id_authorization_failed;
        co_return resp;
    }
    // An idempotent producer always gets a fresh id at epoch 0, also when it names its old
    // one (KIP-360's bump applies to transactional ids).
    auto id = ctx.b.producer_ids->try_next();
    if (!id) {
        // This node's block is used up: the controller hands out the next one.
        cluster::controller_request ask{.kind = cluster::request_kind::allocate_producer_ids,
                                        .count = cluster::producer_id_allocator::block_size};
        ask.broker.id = ctx.b.config.node_id;
        auto block = co_await ask_controller(ctx, std::move(ask));
        if (block.code != cluster::errc::none) {
            // Retriable for the client (it asks again), never a repeated id.
            resp.error_code = error_code::coordinator_not_available;
            co_return resp;
        }
        ctx.b.producer_ids->add_block(block.first_producer_id,
                                      cluster::producer_id_allocator::block_size);
        id = ctx.b.producer_ids->try_next();
        if (!id) {
            resp.error_code = error_code::coordinator_not_available;
            co_return resp;
        }
    }
    resp.producer_id = *id;
    resp.producer_epoch = 0;
    co_return resp;
}

}  // namespace trib::kafka
