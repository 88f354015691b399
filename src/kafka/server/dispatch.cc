#include <algorithm>
#include <cctype>
#include <optional>

#include "base/clock.h"
#include "base/logging.h"
#include "cluster/controller.h"
#include "cluster/errc.h"
#include "kafka/groups/group_manager.h"
#include "kafka/protocol/alter_configs.h"
#include "kafka/protocol/alter_partition_reassignments.h"
#include "kafka/protocol/api_versions.h"
#include "kafka/protocol/create_partitions.h"
#include "kafka/protocol/create_topics.h"
#include "kafka/protocol/delete_groups.h"
#include "kafka/protocol/delete_records.h"
#include "kafka/protocol/delete_topics.h"
#include "kafka/protocol/describe_cluster.h"
#include "kafka/protocol/describe_configs.h"
#include "kafka/protocol/describe_groups.h"
#include "kafka/protocol/describe_log_dirs.h"
#include "kafka/protocol/error_codes.h"
#include "kafka/protocol/fetch.h"
#include "kafka/protocol/find_coordinator.h"
#include "kafka/protocol/heartbeat.h"
#include "kafka/protocol/incremental_alter_configs.h"
#include "kafka/protocol/init_producer_id.h"
#include "kafka/protocol/join_group.h"
#include "kafka/protocol/leave_group.h"
#include "kafka/protocol/list_groups.h"
#include "kafka/protocol/list_offsets.h"
#include "kafka/protocol/list_partition_reassignments.h"
#include "kafka/protocol/metadata.h"
#include "kafka/protocol/offset_commit.h"
#include "kafka/protocol/offset_delete.h"
#include "kafka/protocol/offset_fetch.h"
#include "kafka/protocol/offset_for_leader_epoch.h"
#include "kafka/protocol/produce.h"
#include "kafka/protocol/sync_group.h"
#include "kafka/server/handlers.h"
#include "kafka/server/request_metrics.h"

namespace trib::kafka {

namespace {

namespace p = protocol;
using handler_fn = asio::awaitable<handler_result> (*)(request_context&);

struct handler_entry {
    p::supported_api api;
    handler_fn run;
};

template <typename Response>
handler_result encoded(const Response& resp, int16_t version) {
    auto body = p::encode(resp, version);
    if (!body) {
        log::get("kafka")->error("cannot encode {} v{}: {}", Response::kafka_api_key, version,
                                 body.error().message());
        return {std::nullopt, true};
    }
    return {std::move(*body), false, first_error(resp)};
}

// Decodes the request, runs `Fn`, encodes its answer; a request that does not decode closes
// the connection (Kafka's InvalidRequestException).
template <typename Request, typename Response, auto Fn>
asio::awaitable<handler_result> typed(request_context& ctx) {
    auto req = p::decode<Request>(ctx.frame.body, ctx.version(), p::trailing::ignore);
    if (!req) {
        log::get("kafka")->debug("malformed {} v{} request from client {}: {}; closing",
                                 ctx.frame.api->name, ctx.version(),
                                 ctx.frame.header.client_id.value_or("-"), req.error().message());
        ctx.b.bad_input.note(bad_input::malformed_body);
        co_return handler_result{std::nullopt, true};
    }
    // The decoded request holds copies of what it needs; the frame can go.
    ctx.frame.body = {};
    protocol::bytes().swap(ctx.frame_bytes);
    auto resp = co_await Fn(ctx, *req);
    if constexpr (std::is_same_v<decltype(resp), std::optional<Response>>) {
        if (!resp) co_return handler_result{};
        co_return encoded(*resp, ctx.version());
    } else {
        co_return encoded(resp, ctx.version());
    }
}

// Kafka's rule for ApiVersions v3's client software name and version (KIP-511).
bool valid_software_field(const std::string& s) {
    auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
    if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
    return std::ranges::all_of(s, [&](char ch) { return alnum(ch) || ch == '-' || ch == '.'; });
}

asio::awaitable<handler_result> api_versions(request_context& ctx) {
    // Any version gets an answer: an unsupported one gets UNSUPPORTED_VERSION at v0 with our
    // ranges, so the client can retry (KIP-511), without reading the body. A supported v3+
    // body must decode and name the client's software validly, or the answer is
    // INVALID_REQUEST, as Kafka gives.
    auto reply = p::answer_api_versions(supported_apis(), ctx.version());
    if (reply.version >= 3) {
        auto req =
            p::decode<p::api_versions_request>(ctx.frame.body, ctx.version(), p::trailing::ignore);
        if (!req || !valid_software_field(req->client_software_name) ||
            !valid_software_field(req->client_software_version)) {
            log::get("kafka")->debug("invalid ApiVersions v{} request from client {}",
                                     ctx.version(), ctx.frame.header.client_id.value_or("-"));
            ctx.b.bad_input.note(bad_input::malformed_body);
            reply.response.error_code = error_code::invalid_request;
            reply.response.api_keys.clear();
        }
    }
    co_return encoded(reply.response, reply.version);
}

// A node cut off from the controller knows no leader it could name; clients stick to the
// broker they are connected to for Metadata (librdkafka does), so it closes the connection
// and they ask another node, which knows who leads now.
asio::awaitable<handler_result> metadata(request_context& ctx) {
    if (ctx.b.controller != nullptr && ctx.b.controller->cut_off(steady_clock_ms())) {
        log::get("kafka")->debug(
            "cut off from the controller: closing the connection of a "
            "Metadata request from client {}",
            ctx.frame.header.client_id.value_or("-"));
        co_return handler_result{std::nullopt, true};
    }
    co_return co_await typed<p::metadata_request, p::metadata_response, handle_metadata>(ctx);
}

constexpr handler_entry handlers[] = {
    {p::supports<p::produce_request>(0, 9),
     typed<p::produce_request, p::produce_response, handle_produce>},
    {p::supports<p::fetch_request>(4, 12),
     typed<p::fetch_request, p::fetch_response, handle_fetch>},
    {p::supports<p::list_offsets_request>(0, 6),
     typed<p::list_offsets_request, p::list_offsets_response, handle_list_offsets>},
    {p::supports<p::offset_for_leader_epoch_request>(0, 4),
     typed<p::offset_for_leader_epoch_request, p::offset_for_leader_epoch_response,
           handle_offset_for_leader_epoch>},
    {p::supports<p::metadata_request>(0, 12), metadata},
    {p::supports<p::api_versions_request>(0, 3), api_versions},
    {p::supports<p::create_topics_request>(0, 7),
     typed<p::create_topics_request, p::create_topics_response, handle_create_topics>},
    {p::supports<p::delete_topics_request>(0, 6),
     typed<p::delete_topics_request, p::delete_topics_response, handle_delete_topics>},
    {p::supports<p::delete_records_request>(0, 2),
     typed<p::delete_records_request, p::delete_records_response, handle_delete_records>},
    {p::supports<p::describe_log_dirs_request>(0, 4),
     typed<p::describe_log_dirs_request, p::describe_log_dirs_response, handle_describe_log_dirs>},
    {p::supports<p::describe_configs_request>(0, 4),
     typed<p::describe_configs_request, p::describe_configs_response, handle_describe_configs>},
    {p::supports<p::alter_configs_request>(0, 2),
     typed<p::alter_configs_request, p::alter_configs_response, handle_alter_configs>},
    {p::supports<p::create_partitions_request>(0, 3),
     typed<p::create_partitions_request, p::create_partitions_response, handle_create_partitions>},
    {p::supports<p::alter_partition_reassignments_request>(0, 0),
     typed<p::alter_partition_reassignments_request, p::alter_partition_reassignments_response,
           handle_alter_partition_reassignments>},
    {p::supports<p::list_partition_reassignments_request>(0, 0),
     typed<p::list_partition_reassignments_request, p::list_partition_reassignments_response,
           handle_list_partition_reassignments>},
    {p::supports<p::incremental_alter_configs_request>(0, 1),
     typed<p::incremental_alter_configs_request, p::incremental_alter_configs_response,
           handle_incremental_alter_configs>},
    {p::supports<p::describe_cluster_request>(0, 1),
     typed<p::describe_cluster_request, p::describe_cluster_response, handle_describe_cluster>},
    {p::supports<p::find_coordinator_request>(0, 4),
     typed<p::find_coordinator_request, p::find_coordinator_response, handle_find_coordinator>},
    {p::supports<p::join_group_request>(0, 9),
     typed<p::join_group_request, p::join_group_response, handle_join_group>},
    {p::supports<p::sync_group_request>(0, 5),
     typed<p::sync_group_request, p::sync_group_response, handle_sync_group>},
    {p::supports<p::heartbeat_request>(0, 4),
     typed<p::heartbeat_request, p::heartbeat_response, handle_heartbeat>},
    {p::supports<p::leave_group_request>(0, 5),
     typed<p::leave_group_request, p::leave_group_response, handle_leave_group>},
    {p::supports<p::offset_commit_request>(0, 8),
     typed<p::offset_commit_request, p::offset_commit_response, handle_offset_commit>},
    {p::supports<p::offset_fetch_request>(0, 8),
     typed<p::offset_fetch_request, p::offset_fetch_response, handle_offset_fetch>},
    {p::supports<p::list_groups_request>(0, 4),
     typed<p::list_groups_request, p::list_groups_response, handle_list_groups>},
    {p::supports<p::describe_groups_request>(0, 5),
     typed<p::describe_groups_request, p::describe_groups_response, handle_describe_groups>},
    {p::supports<p::delete_groups_request>(0, 2),
     typed<p::delete_groups_request, p::delete_groups_response, handle_delete_groups>},
    {p::supports<p::init_producer_id_request>(0, 4),
     typed<p::init_producer_id_request, p::init_producer_id_response, handle_init_producer_id>},
    {p::supports<p::offset_delete_request>(0, 0),
     typed<p::offset_delete_request, p::offset_delete_response, handle_offset_delete>},
};

constexpr auto supported = [] {
    std::array<p::supported_api, std::size(handlers)> out{};
    for (size_t i = 0; i < std::size(handlers); ++i)
        out[i] = handlers[i].api;
    return out;
}();

}  // namespace

std::span<const p::supported_api> supported_apis() {
    return supported;
}

asio::awaitable<handler_result> dispatch(request_context& ctx) {
    int16_t key = ctx.frame.header.request_api_key;
    auto it = std::find_if(std::begin(handlers), std::end(handlers),
                           [&](const handler_entry& h) { return h.api.key == key; });
    auto log = log::get("kafka");
    if (it == std::end(handlers) || ctx.frame.api == nullptr) {
        log->debug("unsupported API key {} from client {}; closing", key,
                   ctx.frame.header.client_id.value_or("-"));
        ctx.b.bad_input.note(bad_input::unsupported_api);
        co_return handler_result{std::nullopt, true};
    }
    if (key != p::api_versions_request::kafka_api_key &&
        !it->api.versions.contains(ctx.version())) {
        log->debug("unsupported {} version {} from client {}; closing", ctx.frame.api->name,
                   ctx.version(), ctx.frame.header.client_id.value_or("-"));
        ctx.b.bad_input.note(bad_input::unsupported_version);
        co_return handler_result{std::nullopt, true};
    }
    co_return co_await it->run(ctx);
}

int16_t error_code_of(const error& e) {
    if (e.code.category() != cluster::cluster_category()) return error_code::unknown_server_error;
    switch (static_cast<cluster::errc>(e.code.value())) {
        case cluster::errc::unknown_topic:
            return error_code::unknown_topic_or_partition;
        case cluster::errc::topic_exists:
            return error_code::topic_already_exists;
        case cluster::errc::invalid_topic_name:
            return error_code::invalid_topic_exception;
        case cluster::errc::invalid_partitions:
            return error_code::invalid_partitions;
        case cluster::errc::invalid_replication_factor:
            return error_code::invalid_replication_factor;
        case cluster::errc::invalid_config:
            return error_code::invalid_config;
        case cluster::errc::storage_failure:
            return error_code::kafka_storage_error;
        case cluster::errc::none:
            return error_code::none;
        case cluster::errc::not_controller:
            return error_code::not_controller;
        case cluster::errc::timed_out:
            return error_code::request_timed_out;
        case cluster::errc::invalid_replica_assignment:
            return error_code::invalid_replica_assignment;
        case cluster::errc::invalid_request:
            return error_code::invalid_request;
        case cluster::errc::no_reassignment:
            return error_code::no_reassignment_in_progress;
        case cluster::errc::unknown_broker:
        case cluster::errc::duplicate_broker:
            break;
    }
    return error_code::unknown_server_error;
}

int16_t missing_partition_error(const broker& b, const std::string& topic, int32_t index) {
    auto t = b.partitions.topic(topic);
    if (!t || index < 0 || index >= t->partitions) return error_code::unknown_topic_or_partition;
    return error_code::not_leader_or_follower;
}

std::vector<const cluster::core::broker*> live_brokers(const cluster::core::image& img) {
    std::vector<const cluster::core::broker*> out;
    for (const auto& [id, b] : img.brokers) {
        if (!b.fenced) out.push_back(&b);
    }
    return out;
}

int32_t controller_id(const broker& b) {
    // Clients send admin requests to the controller they are told of; any node forwards them
    // to the controller leader, so the answering node is named (as KRaft brokers name a live
    // broker): it is up, where a leader that just died would keep clients waiting on it.
    return b.config.node_id;
}

bool is_internal_topic(const std::string& name) {
    return name == groups::group_manager::log_topic;
}

}  // namespace trib::kafka
