// The admin API's consumer-group documents and lag gauges.
#include "admin/group_views.h"

#include <nlohmann/json.hpp>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "admin/views.h"
#include "base/clock.h"
#include "cluster/partition_manager.h"
#include "kafka/groups/group_manager.h"
#include "model/record_batch.h"

namespace trib::admin {

namespace {

using json = nlohmann::json;
using kafka::groups::coordinator;

// The timestamp of the record at `offset` (the first not yet consumed) in the local replica.
std::optional<int64_t> timestamp_at(const cluster::partition& p, int64_t offset) {
    // The batch holding it comes whole whatever the limit; a little more covers the rare
    // case of it being a batch the record was compacted out of. Scrapes read this for every
    // committed partition, so it stays small.
    auto read = p.read(offset, size_t{16} * 1024);
    if (!read) return std::nullopt;
    model::batch_walker walker(read->data);
    for (;;) {
        auto h = walker.next();
        if (!h || !*h) return std::nullopt;
        if ((*h)->last_offset() < offset || (*h)->is_control()) continue;
        std::optional<int64_t> found;
        const model::batch_header& header = **h;
        (void)model::for_each_record(
            walker.current(), size_t{16} << 20, [&](const model::record_view& r) {
                if (found || header.base_offset + r.offset_delta < offset) return;
                found = header.log_append_time() ? header.max_timestamp
                                                 : header.base_timestamp + r.timestamp_delta;
            });
        if (found) return found;
    }
}

}  // namespace

partition_lag lag_of(const sources& src, const std::string& topic, int32_t partition,
                     int64_t committed, int64_t now_ms) {
    partition_lag out;
    auto p = src.partitions->get(topic, partition);
    if (!p) return out;  // no replica here: unknown
    out.high_watermark = p->high_watermark();
    out.records = std::max<int64_t>(0, out.high_watermark - std::max(committed, p->log_start()));
    if (out.records == 0) {
        out.seconds = 0;
    } else if (auto ts = timestamp_at(*p, std::max(committed, p->log_start()))) {
        out.seconds = static_cast<double>(std::max<int64_t>(0, now_ms - *ts)) / 1000.0;
    }
    return out;
}

std::vector<group_snapshot> coordinated_groups(const sources& src) {
    if (src.groups == nullptr) return {};
    return src.groups->inspect([](const coordinator& c) {
        std::vector<group_snapshot> out;
        for (const auto& listing : c.list()) {
            group_snapshot g{.id = listing.group_id,
                             .state = std::string(kafka::groups::state_name(listing.state)),
                             .protocol_type = listing.protocol_type,
                             .members = 0,
                             .offsets = {}};
            g.members = c.describe(listing.group_id).members.size();
            for (const auto& [tp, off] : c.fetch_offsets(listing.group_id, std::nullopt)) {
                g.offsets.emplace_back(tp.topic, tp.partition, off.offset);
            }
            out.push_back(std::move(g));
        }
        return out;
    });
}

namespace {

json group_json(const sources& src, const group_snapshot& g, int64_t now) {
    json parts = json::array();
    int64_t total = 0;
    double worst = 0;
    for (const auto& [topic, partition, committed] : g.offsets) {
        partition_lag lag = lag_of(src, topic, partition, committed, now);
        if (lag.records > 0) total += lag.records;
        if (lag.seconds) worst = std::max(worst, *lag.seconds);
        parts.push_back({{"topic", topic},
                         {"partition", partition},
                         {"committed", committed},
                         {"high_watermark", lag.high_watermark},
                         {"lag", lag.records},
                         {"lag_seconds", lag.seconds ? json(*lag.seconds) : json(nullptr)}});
    }
    return {{"group", g.id},
            {"state", g.state},
            {"protocol_type", g.protocol_type},
            {"members", g.members},
            {"coordinator", src.self},
            {"lag", total},
            {"max_lag_seconds", worst},
            {"partitions", std::move(parts)}};
}

}  // namespace

json groups_view(const sources& src) {
    json out = json::array();
    int64_t now = wall_clock_ms();
    for (const auto& g : coordinated_groups(src))
        out.push_back(group_json(src, g, now));
    return out;
}

std::optional<json> group_view(const sources& src, const std::string& id) {
    int64_t now = wall_clock_ms();
    for (const auto& g : coordinated_groups(src)) {
        if (g.id == id) return group_json(src, g, now);
    }
    return std::nullopt;
}

void add_group_gauges(const sources& src, prometheus::Registry& r) {
    auto gauge = [&](const std::string& name, const std::string& help) -> auto& {
        return prometheus::BuildGauge().Name(name).Help(help).Register(r);
    };
    auto& records = gauge("tributary_group_lag_records",
                          "Records of a partition a consumer group has not committed yet");
    auto& seconds = gauge("tributary_group_lag_seconds",
                          "Seconds since the first record a group has not consumed was written");
    auto& members = gauge("tributary_group_members", "Members of a consumer group");
    int64_t now = wall_clock_ms();
    for (const auto& g : coordinated_groups(src)) {
        members.Add({{"group", g.id}}).Set(static_cast<double>(g.members));
        for (const auto& [topic, partition, committed] : g.offsets) {
            partition_lag lag = lag_of(src, topic, partition, committed, now);
            if (lag.records < 0) continue;
            prometheus::Labels l{
                {"group", g.id}, {"topic", topic}, {"partition", std::to_string(partition)}};
            records.Add(l).Set(static_cast<double>(lag.records));
            if (lag.seconds) seconds.Add(l).Set(*lag.seconds);
        }
    }
}

}  // namespace trib::admin
