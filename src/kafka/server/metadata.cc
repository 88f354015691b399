// Metadata: every live broker, every topic with its partitions and replicas from the
// controller's image as this node has applied it, leaders, epochs and ISR from the partitions'
// Raft groups (CLUSTER_PROTOCOL.md's rules).
#include "kafka/protocol/metadata.h"

#include "kafka/protocol/error_codes.h"
#include "kafka/server/controller_calls.h"
#include "kafka/server/handlers.h"

namespace trib::kafka {

namespace {

namespace p = protocol;

p::metadata_response::metadata_response_topic describe_topic(const cluster::partition_manager& pm,
                                                             const cluster::core::image& img,
                                                             const cluster::core::topic& t) {
    p::metadata_response::metadata_response_topic out;
    out.name = t.name;
    out.topic_id.value = t.id;
    out.is_internal = is_internal_topic(t.name);
    for (size_t i = 0; i < t.partitions.size(); ++i) {
        // While it moves, the replicas it is moving to and those it is leaving (as Kafka).
        const auto replicas = cluster::core::all_replicas(t, static_cast<int32_t>(i));
        p::metadata_response::metadata_response_partition part;
        part.partition_index = static_cast<int32_t>(i);
        part.replica_nodes = replicas;
        for (int32_t r : replicas) {
            if (!img.live(r)) part.offline_replicas.push_back(r);
        }
        // The leader Raft elected, if it is live; none now: leader -1 with
        // LEADER_NOT_AVAILABLE and the topic itself error-free (librdkafka and KafkaJS).
        auto state = pm.state_of(img, t, static_cast<int32_t>(i));
        part.leader_id = state.leader;
        part.leader_epoch = static_cast<int32_t>(std::max<int64_t>(state.epoch, 0));
        part.isr_nodes = state.in_sync;
        if (state.leader < 0) part.error_code = error_code::leader_not_available;
        out.partitions.push_back(std::move(part));
    }
    return out;
}

}  // namespace

asio::awaitable<p::metadata_response> handle_metadata(request_context& ctx,
                                                      p::metadata_request& req) {
    auto& b = ctx.b;
    p::metadata_response resp;
    // v0: an empty list means every topic; v1+: null means every topic, empty means none.
    bool all = !req.topics || (ctx.version() == 0 && req.topics->empty());
    // Auto-creation is on by default before v4, where the request has no say.
    bool client_allows = ctx.version() < 4 || req.allow_auto_topic_creation;
    std::vector<int16_t> name_errors;
    if (!all) {
        for (const auto& requested : *req.topics) {
            name_errors.push_back(requested.name
                                      ? co_await ensure_topic(ctx, *requested.name, client_allows)
                                      : error_code::unknown_topic_id);
        }
    }
    // One image for the whole answer, taken after any creation, so brokers, leaders and
    // topics agree with each other.
    auto img = b.partitions.image();
    for (const auto* broker : live_brokers(*img)) {
        resp.brokers.push_back(
            {broker->id, broker->kafka.host, broker->kafka.port, broker->rack, {}});
    }
    resp.cluster_id = img->cluster_id;
    resp.controller_id = controller_id(b);
    if (all) {
        for (const auto& [name, t] : img->topics)
            resp.topics.push_back(describe_topic(b.partitions, *img, t));
        co_return resp;
    }
    for (size_t i = 0; i < req.topics->size(); ++i) {
        const auto& requested = (*req.topics)[i];
        const cluster::core::topic* t = nullptr;
        p::metadata_response::metadata_response_topic out;
        out.error_code = name_errors[i];
        if (requested.name) {
            out.name = requested.name;
            if (out.error_code == error_code::none) t = img->find_topic(*requested.name);
        } else {
            out.topic_id = requested.topic_id;
            t = img->find_topic(requested.topic_id.value);
        }
        if (t != nullptr) {
            resp.topics.push_back(describe_topic(b.partitions, *img, *t));
        } else {
            if (out.error_code == error_code::none) {
                out.error_code = error_code::unknown_topic_or_partition;  // deleted meanwhile
            }
            resp.topics.push_back(std::move(out));
        }
    }
    co_return resp;
}

}  // namespace trib::kafka
