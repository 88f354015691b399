// Partition reassignment: AlterPartitionReassignments (start, replace or cancel a move) and
// ListPartitionReassignments (the moves under way). The controller records each target; the
// partition's leader walks its Raft group's voters there one at a time and reports the end
// (cluster/partition_moves.cc).
#include <algorithm>

#include "kafka/protocol/alter_partition_reassignments.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/protocol/list_partition_reassignments.h"
#include "kafka/server/controller_calls.h"
#include "kafka/server/handlers.h"

namespace trib::kafka {

namespace p = protocol;

asio::awaitable<p::alter_partition_reassignments_response> handle_alter_partition_reassignments(
    request_context& ctx, p::alter_partition_reassignments_request& req) {
    p::alter_partition_reassignments_response resp;
    for (const auto& t : req.topics) {
        auto& topic_out = resp.responses.emplace_back();
        topic_out.name = t.name;
        for (const auto& part : t.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition_index = part.partition_index;
            cluster::controller_request request{.kind = cluster::request_kind::reassign_partition,
                                                .topic = t.name,
                                                .partitions = part.partition_index};
            if (part.replicas) {  // null cancels
                if (part.replicas->empty()) {
                    out.error_code = error_code::invalid_replica_assignment;
                    out.error_message = "a partition needs at least one replica";
                    continue;
                }
                request.assignment.push_back(*part.replicas);
            }
            auto answer = co_await ask_controller(ctx, std::move(request),
                                                  controller_timeout(req.timeout_ms));
            if (answer.code != cluster::errc::none) {
                out.error_code = error_code_of(error_of(answer));
                out.error_message = answer.message;
            }
        }
    }
    co_return resp;
}

asio::awaitable<p::list_partition_reassignments_response> handle_list_partition_reassignments(
    request_context& ctx, p::list_partition_reassignments_request& req) {
    p::list_partition_reassignments_response resp;
    auto img = ctx.b.partitions.image();
    if (!img) co_return resp;
    auto describe = [](const cluster::core::topic& t, int32_t index) {
        p::list_partition_reassignments_response::ongoing_partition_reassignment out;
        out.partition_index = index;
        const auto& current = t.partitions[static_cast<size_t>(index)];
        const auto& target = t.moving.at(index);
        out.replicas = cluster::core::all_replicas(t, index);
        for (int32_t id : target) {
            if (std::find(current.begin(), current.end(), id) == current.end()) {
                out.adding_replicas.push_back(id);
            }
        }
        for (int32_t id : current) {
            if (std::find(target.begin(), target.end(), id) == target.end()) {
                out.removing_replicas.push_back(id);
            }
        }
        return out;
    };
    if (!req.topics) {
        for (const auto& [name, t] : img->topics) {
            if (t.moving.empty()) continue;
            auto& topic_out = resp.topics.emplace_back();
            topic_out.name = name;
            for (const auto& [index, target] : t.moving) {
                topic_out.partitions.push_back(describe(t, index));
            }
        }
        co_return resp;
    }
    // Named partitions that are not moving (or do not exist) are left out, as Kafka does.
    for (const auto& asked : *req.topics) {
        const auto* t = img->find_topic(asked.name);
        if (t == nullptr) continue;
        p::list_partition_reassignments_response::ongoing_topic_reassignment topic_out;
        topic_out.name = asked.name;
        for (int32_t index : asked.partition_indexes) {
            if (t->moving.contains(index)) topic_out.partitions.push_back(describe(*t, index));
        }
        if (!topic_out.partitions.empty()) resp.topics.push_back(std::move(topic_out));
    }
    co_return resp;
}

}  // namespace trib::kafka
