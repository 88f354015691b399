// Metadata: this node is every partition's leader and only replica.
#include "kafka/protocol/metadata.h"

#include "kafka/protocol/error_codes.h"
#include "kafka/server/handlers.h"

namespace trib::kafka {

namespace {

namespace p = protocol;

p::metadata_response::metadata_response_topic describe_topic(const broker& b,
                                                             const cluster::topic_info& t) {
    p::metadata_response::metadata_response_topic out;
    out.name = t.name;
    out.topic_id.value = t.id;
    out.is_internal = is_internal_topic(t.name);
    for (int32_t i = 0; i < t.partitions; ++i) {
        p::metadata_response::metadata_response_partition part;
        part.partition_index = i;
        part.leader_id = b.config.node_id;
        part.leader_epoch = 0;
        part.replica_nodes = {b.config.node_id};
        part.isr_nodes = {b.config.node_id};
        out.partitions.push_back(std::move(part));
    }
    return out;
}

}  // namespace

asio::awaitable<p::metadata_response> handle_metadata(request_context& ctx,
                                                      p::metadata_request& req) {
    auto& b = ctx.b;
    p::metadata_response resp;
    resp.brokers.push_back(
        {b.config.node_id, b.config.advertised_host, b.config.advertised_port, std::nullopt, {}});
    resp.cluster_id = b.partitions.cluster_id();
    resp.controller_id = b.config.node_id;
    // v0: an empty list means every topic; v1+: null means every topic, empty means none.
    bool all = !req.topics || (ctx.version() == 0 && req.topics->empty());
    if (all) {
        for (const auto& t : b.partitions.topics())
            resp.topics.push_back(describe_topic(b, t));
        co_return resp;
    }
    // Auto-creation is on by default before v4, where the request has no say.
    bool client_allows = ctx.version() < 4 || req.allow_auto_topic_creation;
    for (const auto& requested : *req.topics) {
        std::optional<cluster::topic_info> t;
        p::metadata_response::metadata_response_topic out;
        if (requested.name) {
            out.name = requested.name;
            out.error_code = ensure_topic(b, *requested.name, client_allows);
            if (out.error_code == error_code::none) t = b.partitions.topic(*requested.name);
        } else {
            out.topic_id = requested.topic_id;
            t = b.partitions.topic_by_id(requested.topic_id.value);
            out.error_code = error_code::unknown_topic_id;
        }
        if (t) {
            resp.topics.push_back(describe_topic(b, *t));
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
