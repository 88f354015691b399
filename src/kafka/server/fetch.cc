// Fetch (with long polling and byte limits), ListOffsets and OffsetForLeaderEpoch.
#include "kafka/protocol/fetch.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/clock.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/protocol/list_offsets.h"
#include "kafka/protocol/offset_for_leader_epoch.h"
#include "kafka/server/handlers.h"
#include "kafka/server/request_metrics.h"
#include "net/later.h"
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

// One partition's share of a fetch pass.
struct partition_read {
    std::shared_ptr<cluster::partition> part;  // null: unknown partition
    int16_t error_code = error_code::none;
    int64_t high_watermark = -1;
    int64_t log_start = -1;
    protocol::bytes records;
};

// One pass over the partitions, in order, within the request's total byte limit.
size_t read_all(request_context& ctx, const p::fetch_request& req,
                std::span<const fetch_target> targets, std::vector<partition_read>& reads) {
    reads.clear();
    reads.resize(targets.size());
    size_t total = 0;
    size_t budget = static_cast<size_t>(std::max(req.max_bytes, 0));
    for (size_t i = 0; i < targets.size(); ++i) {
        const fetch_target& t = targets[i];
        partition_read& out = reads[i];
        out.part = ctx.b.partitions.get(t.topic, t.partition);
        if (!out.part) {
            out.error_code = missing_partition_error(ctx.b, t.topic, t.partition);
            continue;
        }
        out.error_code = leader_error(*out.part, t.current_leader_epoch);
        if (out.error_code != error_code::none) continue;
        auto& part = *out.part;
        out.high_watermark = part.high_watermark();
        out.log_start = part.log_start();
        // Out of range only outside the log: between the high watermark and the log's end
        // (not yet committed) is empty, or every client would reset its position.
        if (t.fetch_offset < out.log_start || t.fetch_offset > part.log_end()) {
            out.error_code = error_code::offset_out_of_range;
            continue;
        }
        if (t.fetch_offset > out.high_watermark) continue;
        if (t.fetch_offset == out.high_watermark || t.max_bytes <= 0) continue;
        // Only the response's first batch may go past the limits (whole, so a consumer can
        // always progress); a later partition whose next batch does not fit what is left of
        // max_bytes returns no records (KIP-74). Fetch v0-v2 has no request limit.
        size_t limit =
            std::min<size_t>(static_cast<size_t>(t.max_bytes), budget > total ? budget - total : 0);
        if (limit == 0 && total > 0) continue;
        auto first = total == 0 ? storage::first_batch::whole : storage::first_batch::within_limit;
        auto got = part.read(t.fetch_offset, std::max<size_t>(limit, 1), first);
        if (!got) {
            out.error_code = read_error(got.error());
            continue;
        }
        total += got->data.size();
        out.records = std::move(got->data);
    }
    return total;
}

fetch_session_request session_request_of(const p::fetch_request& req) {
    fetch_session_request out{.session_id = req.session_id, .epoch = req.session_epoch};
    for (const auto& topic : req.topics) {
        for (const auto& fp : topic.partitions) {
            out.partitions.push_back({.topic = topic.topic,
                                      .partition = fp.partition,
                                      .fetch_offset = fp.fetch_offset,
                                      .max_bytes = fp.partition_max_bytes,
                                      .current_leader_epoch = fp.current_leader_epoch});
        }
    }
    for (const auto& forgotten : req.forgotten_topics_data) {
        for (int32_t partition : forgotten.partitions) {
            out.forgotten.emplace_back(forgotten.topic, partition);
        }
    }
    return out;
}

// Releases the session however the fetch ends: a closed connection destroys a long poll.
class session_guard {
  public:
    session_guard(fetch_session_cache& cache, int32_t id) : cache_(cache), id_(id) {}
    session_guard(const session_guard&) = delete;
    session_guard& operator=(const session_guard&) = delete;
    ~session_guard() {
        if (id_ != 0) cache_.finish(id_, {}, steady_clock_ms());
    }
    void finish(std::span<const fetch_outcome> outcomes) {
        cache_.finish(std::exchange(id_, 0), outcomes, steady_clock_ms());
    }

  private:
    fetch_session_cache& cache_;
    int32_t id_;
};

// Builds the response from the last pass; an incremental one leaves out the partitions
// with nothing new. Consecutive partitions of a topic share its entry.
void fill_response(fetch_response& resp, std::span<const fetch_target> targets,
                   std::vector<partition_read>& reads, bool incremental,
                   std::vector<fetch_outcome>& outcomes) {
    outcomes.resize(targets.size());
    for (size_t i = 0; i < targets.size(); ++i) {
        partition_read& r = reads[i];
        fetch_outcome& o = outcomes[i];
        o = {.high_watermark = r.high_watermark,
             .log_start = r.log_start,
             .has_records = !r.records.empty(),
             .has_error = r.error_code != error_code::none};
        if (!fetch_session_cache::worth_sending(targets[i], o, incremental)) continue;
        if (resp.responses.empty() || resp.responses.back().topic != targets[i].topic) {
            resp.responses.emplace_back().topic = targets[i].topic;
        }
        auto& out = resp.responses.back().partitions.emplace_back();
        out.partition_index = targets[i].partition;
        out.error_code = r.error_code;
        out.high_watermark = r.high_watermark;
        out.last_stable_offset = r.high_watermark;
        out.log_start_offset = r.log_start;
        // Counted as sent here, not at each read: a long poll reads again after each wait.
        if (!r.records.empty()) record_topic_bytes(false, targets[i].topic, r.records.size());
        out.records = std::move(r.records);  // empty, not null, as Kafka sends (librdkafka)
    }
}

}  // namespace

int16_t leader_error(const cluster::partition& part, int32_t current_epoch) {
    auto l = part.leader();
    if (!l.local) return error_code::not_leader_or_follower;
    if (current_epoch < 0) return error_code::none;
    if (current_epoch < l.epoch) return error_code::fenced_leader_epoch;
    if (current_epoch > l.epoch) return error_code::unknown_leader_epoch;
    return error_code::none;
}

asio::awaitable<fetch_response> handle_fetch(request_context& ctx, p::fetch_request& req) {
    fetch_response resp;
    auto begun = ctx.b.fetch_sessions.begin(session_request_of(req), steady_clock_ms());
    resp.session_id = begun.session_id;
    if (begun.error_code != error_code::none) {
        resp.error_code = begun.error_code;
        co_return resp;
    }
    session_guard guard(ctx.b.fetch_sessions, begun.session_id);
    // The wait is capped (kafka.max_fetch_wait_ms), and ends when the client goes: a parked
    // Fetch holds its request's memory.
    auto wait_ms = std::min<int64_t>(std::max(req.max_wait_ms, 0), ctx.b.config.max_fetch_wait_ms);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    auto event = std::make_shared<net::async_event>(ctx.executor);
    ctx.closing.watch(event);
    std::vector<partition_read> reads;
    for (;;) {
        // The client is gone: nobody reads the answer, so do not build it (a parked Fetch of
        // many partitions would read them all once more).
        if (ctx.closing.closed()) co_return resp;
        size_t bytes = read_all(ctx, req, begun.targets, reads);
        bool any_error = std::ranges::any_of(
            reads, [](const auto& r) { return r.error_code != error_code::none; });
        bool any_known =
            std::ranges::any_of(reads, [](const auto& r) { return r.part != nullptr; });
        if (any_error || !any_known || bytes >= static_cast<size_t>(std::max(req.min_bytes, 1)) ||
            std::chrono::steady_clock::now() >= deadline || ctx.closing.closed()) {
            break;
        }
        // Data that arrived between the read and the registration is caught by the check.
        bool moved = false;
        const cluster::partition* last = nullptr;
        for (const auto& r : reads) {
            if (!r.part || r.part.get() == last) continue;  // one waiter per partition run
            last = r.part.get();
            r.part->add_waiter(event);
            moved = moved || r.part->high_watermark() != r.high_watermark;
        }
        if (moved) continue;
        co_await event->wait_until(deadline);
    }
    std::vector<fetch_outcome> outcomes;
    fill_response(resp, begun.targets, reads, begun.incremental, outcomes);
    guard.finish(outcomes);
    co_return resp;
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
                out.error_code = missing_partition_error(ctx.b, topic.name, lp.partition_index);
                continue;
            }
            int32_t epoch = ctx.version() >= 4 ? lp.current_leader_epoch : -1;
            out.error_code = leader_error(*part, epoch);
            if (out.error_code != error_code::none) continue;
            auto leadership = part->leader();
            int64_t offset = -1;
            int64_t timestamp = -1;
            if (lp.timestamp == latest_timestamp) {
                if (!leadership.ready) {
                    // A new leader's high watermark may lag the old one's until it commits
                    // an entry of its term (CLUSTER_PROTOCOL.md).
                    out.error_code = ctx.version() >= 5 ? error_code::offset_not_available
                                                        : error_code::leader_not_available;
                    continue;
                }
                offset = part->high_watermark();
            } else if (lp.timestamp == earliest_timestamp) {
                offset = part->log_start();
            } else if (lp.timestamp >= 0) {
                auto found = part->offset_for_timestamp(lp.timestamp);
                if (!found) {
                    out.error_code = read_error(found.error());
                    continue;
                }
                if (*found) {
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
                if (ctx.version() >= 4) out.leader_epoch = static_cast<int32_t>(leadership.epoch);
            }
        }
    }
    co_return resp;
}

// A consumer whose leader changed asks where the epoch of its last record ended, to tell
// whether the log it read from was truncated (KIP-320).
asio::awaitable<p::offset_for_leader_epoch_response> handle_offset_for_leader_epoch(
    request_context& ctx, p::offset_for_leader_epoch_request& req) {
    p::offset_for_leader_epoch_response resp;
    for (const auto& topic : req.topics) {
        auto& topic_out = resp.topics.emplace_back();
        topic_out.topic = topic.topic;
        for (const auto& lp : topic.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition = lp.partition;
            auto part = ctx.b.partitions.get(topic.topic, lp.partition);
            if (!part) {
                out.error_code = missing_partition_error(ctx.b, topic.topic, lp.partition);
                continue;
            }
            out.error_code = leader_error(*part, ctx.version() >= 2 ? lp.current_leader_epoch : -1);
            if (out.error_code != error_code::none) continue;
            using epoch_end = std::pair<int64_t, int64_t>;
            auto answer = std::make_shared<net::later<epoch_end>>(ctx.executor);
            part->end_of_epoch(lp.leader_epoch, [answer](int64_t epoch, int64_t end) {
                answer->set({epoch, end});
            });
            epoch_end found = co_await answer->get();
            out.leader_epoch = static_cast<int32_t>(found.first);
            out.end_offset = found.second;
        }
    }
    co_return resp;
}

}  // namespace trib::kafka
