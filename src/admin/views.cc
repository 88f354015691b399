#include "admin/views.h"

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "admin/group_views.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "cluster/controller.h"
#include "cluster/partition_manager.h"

namespace trib::admin {

namespace {

using json = nlohmann::json;

std::string hex_id(const cluster::core::topic_id& id) {
    std::string out;
    for (uint8_t b : id)
        out += fmt::format("{:02x}", b);
    return out;
}

double uptime_s(const sources& src) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - src.started).count();
}

// A partition of a topic as the image and (where this node holds a replica) its log say.
json partition_view(const sources& src, const cluster::core::image& img,
                    const cluster::core::topic& t, int32_t index) {
    cluster::partition_state st = src.partitions->state_of(img, t, index);
    std::vector<int32_t> offline;
    auto replicas = cluster::core::all_replicas(t, index);
    for (int32_t r : replicas) {
        if (!img.live(r)) offline.push_back(r);
    }
    auto moving = t.moving.find(index);
    json p{{"partition", index},
           {"replicas", replicas},
           {"moving_to", moving == t.moving.end() ? json(nullptr) : json(moving->second)},
           {"leader", st.leader},
           {"leader_epoch", st.epoch},
           {"in_sync_replicas", st.in_sync},
           {"offline_replicas", offline},
           {"raft_group", index < static_cast<int32_t>(t.groups.size())
                              ? json(t.groups[static_cast<size_t>(index)])
                              : json(nullptr)}};
    if (auto local = src.partitions->get(t.name, index)) {
        const storage::log& log = local->log();
        cluster::leadership l = local->leader();
        p["local_replica"] = {{"leads", l.local},
                              {"serving", l.ready},
                              {"high_watermark", local->high_watermark()},
                              {"log_start_offset", local->log_start()},
                              {"log_end_offset", local->log_end()},
                              {"size_bytes", log.size_bytes()},
                              {"segments", log.segment_count()},
                              {"failed", log.failed()},
                              {"damaged", !log.damage().empty()}};
        if (l.local) {
            json lag = json::object();
            for (const auto& [replica, behind] : local->replica_lag())
                lag[std::to_string(replica)] = behind;
            p["local_replica"]["replica_lag"] = lag;  // offsets each follower is behind
        }
    }
    return p;
}

}  // namespace

json brokers_view(const sources& src) {
    auto img = src.controller->image();
    std::map<int32_t, int64_t> replicas;  // per broker, counting where moves go and leave
    for (const auto& [name, t] : img->topics) {
        for (size_t p = 0; p < t.partitions.size(); ++p) {
            for (int32_t r : cluster::core::all_replicas(t, static_cast<int32_t>(p)))
                ++replicas[r];
        }
    }
    json out = json::array();
    for (const auto& [id, b] : img->brokers) {
        json item{{"id", id},
                  {"kafka", fmt::format("{}:{}", b.kafka.host, b.kafka.port)},
                  {"rpc", fmt::format("{}:{}", b.rpc.host, b.rpc.port)},
                  {"rack", b.rack ? json(*b.rack) : json(nullptr)},
                  {"live", !b.fenced},
                  {"decommissioning", img->draining.contains(id)},
                  {"replicas", replicas[id]},
                  {"incarnation", fmt::format("{:016x}", b.incarnation)}};
        if (id == src.self) {
            item["version"] = src.version;
            item["uptime_seconds"] = uptime_s(src);
        }
        out.push_back(std::move(item));
    }
    return out;
}

json cluster_view(const sources& src) {
    auto img = src.controller->image();
    size_t partitions = 0;
    for (const auto& [name, t] : img->topics)
        partitions += t.partitions.size();
    return {{"cluster_id", img->cluster_id},
            {"node_id", src.self},
            {"controller",
             {{"leader", src.controller->leader_id()},
              {"voter", src.controller->is_voter()},
              {"applied_offset", img->applied_offset},
              {"cut_off", src.controller->cut_off(steady_clock_ms())}}},
            {"brokers", brokers_view(src)},
            {"topics", img->topics.size()},
            {"partitions", partitions}};
}

json topics_view(const sources& src) {
    auto img = src.controller->image();
    json out = json::array();
    for (const auto& [name, t] : img->topics) {
        out.push_back({{"name", name},
                       {"id", hex_id(t.id)},
                       {"partitions", t.partitions.size()},
                       {"replication_factor", t.partitions.empty() ? 0 : t.partitions[0].size()},
                       {"configs", t.configs}});
    }
    return out;
}

std::optional<json> topic_view(const sources& src, const std::string& name) {
    auto img = src.controller->image();
    const cluster::core::topic* t = img->find_topic(name);
    if (t == nullptr) return std::nullopt;
    json parts = json::array();
    for (size_t i = 0; i < t->partitions.size(); ++i) {
        parts.push_back(partition_view(src, *img, *t, static_cast<int32_t>(i)));
    }
    return json{{"name", t->name},
                {"id", hex_id(t->id)},
                {"configs", t->configs},
                {"partitions", std::move(parts)}};
}

std::vector<std::string> not_ready_reasons(const sources& src) {
    std::vector<std::string> reasons;
    if (!src.serving || !src.serving()) {
        reasons.emplace_back("the node is still starting");
        return reasons;
    }
    if (src.controller->cut_off(steady_clock_ms())) {
        reasons.emplace_back("cut off from the controller");
    }
    auto img = src.controller->image();
    for (const auto& [name, t] : img->topics) {
        for (size_t i = 0; i < t.partitions.size(); ++i) {
            auto local = src.partitions->get(name, static_cast<int32_t>(i));
            if (!local || !local->leader().local) continue;
            if (local->log().failed() || !local->log().damage().empty()) {
                reasons.push_back(fmt::format("{}-{} (led here) is out of service", name, i));
            }
        }
    }
    return reasons;
}

std::string metrics_text(const sources& src) {
    // Gauges read now, in a registry of their own for this scrape.
    prometheus::Registry now;
    auto gauge = [&](const std::string& name, const std::string& help) -> auto& {
        return prometheus::BuildGauge().Name(name).Help(help).Register(now);
    };
    gauge("tributary_uptime_seconds", "Seconds since this node started").Add({}).Set(uptime_s(src));
    gauge("tributary_build_info", "Always 1; the version as a label")
        .Add({{"version", src.version}})
        .Set(1);
    if (src.connections) {
        gauge("tributary_kafka_connections", "Kafka client connections open")
            .Add({})
            .Set(src.connections());
    }
    if (src.request_memory_in_use) {
        gauge("tributary_kafka_request_memory_bytes",
              "Bytes of Kafka requests being read or served (kafka.max_request_memory)")
            .Add({})
            .Set(static_cast<double>(src.request_memory_in_use()));
        gauge("tributary_kafka_request_memory_limit_bytes", "kafka.max_request_memory")
            .Add({})
            .Set(static_cast<double>(src.request_memory_limit));
    }
    auto img = src.controller->image();
    auto& brokers = gauge("tributary_brokers", "Brokers registered with the controller, by state");
    double live = 0;
    double fenced = 0;
    for (const auto& [id, b] : img->brokers)
        (b.fenced ? fenced : live) += 1;
    brokers.Add({{"state", "live"}}).Set(live);
    brokers.Add({{"state", "fenced"}}).Set(fenced);
    gauge("tributary_controller_leader", "The controller leader's node id (-1: none known)")
        .Add({})
        .Set(src.controller->leader_id());

    auto& hw = gauge("tributary_partition_high_watermark",
                     "The offset after the last committed record (this node's replica)");
    auto& start = gauge("tributary_partition_log_start_offset", "The first offset kept");
    auto& end = gauge("tributary_partition_log_end_offset", "The next offset to be written");
    auto& size = gauge("tributary_partition_size_bytes", "Bytes of the replica's log on disk");
    auto& segments = gauge("tributary_partition_segments", "Segments of the replica's log");
    auto& leads = gauge("tributary_partition_leader", "1 if this node leads the partition");
    auto& isr = gauge("tributary_partition_in_sync_replicas", "Replicas in sync (as known here)");
    auto& replica_lag = gauge("tributary_partition_replica_lag",
                              "Offsets a follower's log is behind the leader's (on the leader)");
    double led = 0;
    double under = 0;
    double offline = 0;
    for (const auto& [name, t] : img->topics) {
        for (size_t i = 0; i < t.partitions.size(); ++i) {
            auto index = static_cast<int32_t>(i);
            cluster::partition_state st = src.partitions->state_of(*img, t, index);
            if (st.leader < 0) offline += 1;
            auto local = src.partitions->get(name, index);
            if (!local) continue;
            prometheus::Labels labels{{"topic", name}, {"partition", std::to_string(i)}};
            bool leading = local->leader().local;
            hw.Add(labels).Set(static_cast<double>(local->high_watermark()));
            start.Add(labels).Set(static_cast<double>(local->log_start()));
            end.Add(labels).Set(static_cast<double>(local->log_end()));
            size.Add(labels).Set(static_cast<double>(local->log().size_bytes()));
            segments.Add(labels).Set(static_cast<double>(local->log().segment_count()));
            leads.Add(labels).Set(leading ? 1 : 0);
            isr.Add(labels).Set(static_cast<double>(st.in_sync.size()));
            if (leading) {
                for (const auto& [replica, behind] : local->replica_lag()) {
                    auto with_replica = labels;
                    with_replica["replica"] = std::to_string(replica);
                    replica_lag.Add(with_replica).Set(static_cast<double>(behind));
                }
                led += 1;
                if (st.in_sync.size() < t.partitions[i].size()) under += 1;
            }
        }
    }
    gauge("tributary_partitions_led", "Partitions this node leads").Add({}).Set(led);
    gauge("tributary_partitions_under_replicated",
          "Partitions led here with fewer replicas in sync than assigned")
        .Add({})
        .Set(under);
    gauge("tributary_partitions_offline", "Partitions of the cluster with no live leader known")
        .Add({})
        .Set(offline);
    double moving = 0;
    for (const auto& [name, t] : img->topics)
        moving += static_cast<double>(t.moving.size());
    gauge("tributary_partitions_moving", "Partitions of the cluster being moved to new replicas")
        .Add({})
        .Set(moving);
    gauge("tributary_brokers_decommissioning",
          "Brokers being decommissioned (their replicas moving elsewhere)")
        .Add({})
        .Set(static_cast<double>(img->draining.size()));
    if (src.flushes_waiting) {
        gauge("tributary_raft_flushes_waiting",
              "Raft logs whose sync is due and waits for a flusher thread (the flush queue's "
              "depth)")
            .Add({})
            .Set(static_cast<double>(src.flushes_waiting()));
    }

    add_group_gauges(src, now);

    auto families = metrics::registry().Collect();
    auto mine = now.Collect();
    families.insert(families.end(), mine.begin(), mine.end());
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace trib::admin
