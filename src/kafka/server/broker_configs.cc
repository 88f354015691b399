#include "kafka/server/broker_configs.h"

#include <fmt/format.h>

#include "kafka/server/broker.h"

namespace trib::kafka {

namespace {

// DescribeConfigs' config_type and config_source numbers.
constexpr int8_t boolean = 1, string = 2, int32 = 3, int16 = 4, int64 = 5, list = 7;
constexpr int8_t from_config = 4, fixed = 5;

std::string flag(bool b) {
    return b ? "true" : "false";
}

}  // namespace

std::vector<broker_setting> broker_settings(const broker_config& c, int64_t max_message_bytes,
                                            int64_t segment_bytes, int64_t retention_ms,
                                            int64_t retention_bytes, int64_t flush_ms) {
    auto n = [](auto v) { return std::optional<std::string>(std::to_string(v)); };
    auto listener = fmt::format("PLAINTEXT://{}:{}", c.listen_host, c.listen_port);
    auto advertised = fmt::format("PLAINTEXT://{}:{}", c.advertised_host, c.advertised_port);
    int64_t retention_hours = retention_ms < 0 ? -1 : retention_ms / 3'600'000;
    return {
        {"broker.id", n(c.node_id), int32, from_config, "This node's id (node.id)."},
        {"node.id", n(c.node_id), int32, from_config, "This node's id."},
        {"listeners", listener, string, from_config, "Where the Kafka listener binds."},
        {"advertised.listeners", advertised, string, from_config,
         "The Kafka address clients are told to connect to."},
        {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT", string, fixed,
         "Plaintext only: TLS and SASL are not built yet."},
        {"inter.broker.protocol.version", "3.6-IV2", string, fixed,
         "The Kafka protocol level this broker speaks to clients."},
        {"process.roles", "broker,controller", list, fixed, "One binary: broker and controller."},
        {"log.dirs", c.data_dir, string, from_config, "The data directory (node.data_dir)."},
        {"log.dir", c.data_dir, string, from_config, "The data directory (node.data_dir)."},
        {"num.partitions", n(c.default_partitions), int32, from_config,
         "Partitions of an automatically created topic."},
        {"default.replication.factor", "1", int32, fixed,
         "Replicas of a new topic when the request names none."},
        {"auto.create.topics.enable", flag(c.auto_create_topics), boolean, from_config,
         "Whether Metadata and Produce create unknown topics."},
        {"delete.topic.enable", "true", boolean, fixed, "Topics can always be deleted."},
        {"message.max.bytes", n(max_message_bytes), int32, from_config,
         "The largest record batch a topic accepts by default (max.message.bytes)."},
        {"log.segment.bytes", n(segment_bytes), int32, from_config,
         "Default segment size (segment.bytes)."},
        {"log.retention.ms", n(retention_ms), int64, from_config,
         "Default time retention (retention.ms); -1: forever."},
        {"log.retention.hours", n(retention_hours), int32, from_config,
         "log.retention.ms in hours."},
        {"log.retention.bytes", n(retention_bytes), int64, from_config,
         "Default size retention per partition (retention.bytes); -1: none."},
        {"log.flush.interval.ms", n(flush_ms), int64, from_config,
         "Default fsync interval (flush.ms)."},
        {"log.flush.interval.messages", n(INT64_MAX), int64, fixed,
         "Default fsync message count (flush.messages)."},
        {"log.cleanup.policy", "delete", list, fixed, "Default cleanup.policy."},
        {"log.cleaner.enable", "true", boolean, fixed, "Compaction runs for compacted topics."},
        {"log.message.timestamp.type", "CreateTime", string, fixed,
         "Default message.timestamp.type."},
        {"compression.type", "producer", string, fixed,
         "Default compression.type: keep the producer's codec."},
        {"min.insync.replicas", "1", int32, fixed, "Default min.insync.replicas."},
        {"unclean.leader.election.enable", "false", boolean, fixed,
         "Never: a leader always has every acknowledged record."},
        {"offsets.topic.replication.factor", "1", int16, fixed, "Replicas of __consumer_offsets."},
        {"offsets.topic.num.partitions", n(c.offsets_partitions), int32, from_config,
         "Partitions of __consumer_offsets."},
        {"offsets.retention.minutes", n(c.offsets_retention_ms / 60'000), int32, from_config,
         "How long an empty group's offsets are kept."},
        {"transaction.state.log.replication.factor", "1", int16, fixed,
         "Transactions are not built yet."},
        {"group.initial.rebalance.delay.ms", n(c.group_initial_rebalance_delay_ms), int32,
         from_config, "How long a new group waits for more members."},
        {"group.min.session.timeout.ms", n(c.group_min_session_timeout_ms), int32, from_config,
         "The shortest session a member may ask for."},
        {"group.max.session.timeout.ms", n(c.group_max_session_timeout_ms), int32, from_config,
         "The longest session a member may ask for."},
        {"group.max.size", "1000", int32, fixed, "Members a group may have."},
        {"socket.request.max.bytes", n(c.max_request_bytes), int32, from_config,
         "The largest request accepted."},
        {"queued.max.request.bytes", n(c.max_request_memory), int64, from_config,
         "Bytes of requests held at once across all connections."},
        {"connections.max.idle.ms", n(c.idle_timeout_ms), int64, from_config,
         "An idle connection is closed after this."},
        {"max.connections", n(c.max_connections), int32, from_config,
         "Client connections accepted at once."},
        {"num.network.threads", n(c.event_loops), int32, from_config,
         "Event loops (node.shards); each serves network and requests."},
        {"num.io.threads", n(c.event_loops), int32, from_config,
         "Event loops (node.shards); each serves network and requests."},
        {"broker.rack", std::nullopt, string, fixed, "No rack is set."},
    };
}

}  // namespace trib::kafka
