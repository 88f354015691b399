// One coroutine per API, each in the file named for its area. The message types are
// declared here only; the handler files include their generated headers.
#pragma once

#include <chrono>

#include <asio/awaitable.hpp>

#include "kafka/server/broker.h"

namespace trib::kafka::protocol {
struct metadata_request;
struct metadata_response;
struct produce_request;
struct produce_response;
struct fetch_request;
struct fetch_response;
struct list_offsets_request;
struct list_offsets_response;
struct offset_for_leader_epoch_request;
struct offset_for_leader_epoch_response;
struct create_topics_request;
struct create_topics_response;
struct delete_topics_request;
struct delete_topics_response;
struct create_partitions_request;
struct create_partitions_response;
struct delete_records_request;
struct delete_records_response;
struct alter_partition_reassignments_request;
struct alter_partition_reassignments_response;
struct list_partition_reassignments_request;
struct list_partition_reassignments_response;
struct describe_log_dirs_request;
struct describe_log_dirs_response;
struct describe_cluster_request;
struct describe_cluster_response;
struct describe_configs_request;
struct describe_configs_response;
struct alter_configs_request;
struct alter_configs_response;
struct incremental_alter_configs_request;
struct incremental_alter_configs_response;
struct find_coordinator_request;
struct find_coordinator_response;
struct join_group_request;
struct join_group_response;
struct sync_group_request;
struct sync_group_response;
struct heartbeat_request;
struct heartbeat_response;
struct leave_group_request;
struct leave_group_response;
struct offset_commit_request;
struct offset_commit_response;
struct offset_fetch_request;
struct offset_fetch_response;
struct list_groups_request;
struct list_groups_response;
struct describe_groups_request;
struct describe_groups_response;
struct delete_groups_request;
struct delete_groups_response;
struct offset_delete_request;
struct offset_delete_response;
struct init_producer_id_request;
struct init_producer_id_response;

}  // namespace trib::kafka::protocol

namespace trib::kafka {

asio::awaitable<protocol::metadata_response> handle_metadata(request_context& ctx,
                                                             protocol::metadata_request& req);
// nullopt: acks=0, no response.
asio::awaitable<std::optional<protocol::produce_response>> handle_produce(
    request_context& ctx, protocol::produce_request& req);
asio::awaitable<protocol::fetch_response> handle_fetch(request_context& ctx,
                                                       protocol::fetch_request& req);
asio::awaitable<protocol::list_offsets_response> handle_list_offsets(
    request_context& ctx, protocol::list_offsets_request& req);
asio::awaitable<protocol::offset_for_leader_epoch_response> handle_offset_for_leader_epoch(
    request_context& ctx, protocol::offset_for_leader_epoch_request& req);
asio::awaitable<protocol::create_topics_response> handle_create_topics(
    request_context& ctx, protocol::create_topics_request& req);
asio::awaitable<protocol::delete_topics_response> handle_delete_topics(
    request_context& ctx, protocol::delete_topics_request& req);

asio::awaitable<protocol::create_partitions_response> handle_create_partitions(
    request_context& ctx, protocol::create_partitions_request& req);
asio::awaitable<protocol::delete_records_response> handle_delete_records(
    request_context& ctx, protocol::delete_records_request& req);
asio::awaitable<protocol::alter_partition_reassignments_response>
handle_alter_partition_reassignments(request_context& ctx,
                                     protocol::alter_partition_reassignments_request& req);
asio::awaitable<protocol::list_partition_reassignments_response>
handle_list_partition_reassignments(request_context& ctx,
                                    protocol::list_partition_reassignments_request& req);
// This node's one log directory (its data directory) with the replicas it holds.
asio::awaitable<protocol::describe_log_dirs_response> handle_describe_log_dirs(
    request_context& ctx, protocol::describe_log_dirs_request& req);
asio::awaitable<protocol::describe_cluster_response> handle_describe_cluster(
    request_context& ctx, protocol::describe_cluster_request& req);
asio::awaitable<protocol::describe_configs_response> handle_describe_configs(
    request_context& ctx, protocol::describe_configs_request& req);
asio::awaitable<protocol::alter_configs_response> handle_alter_configs(
    request_context& ctx, protocol::alter_configs_request& req);
asio::awaitable<protocol::incremental_alter_configs_response> handle_incremental_alter_configs(
    request_context& ctx, protocol::incremental_alter_configs_request& req);

asio::awaitable<protocol::init_producer_id_response> handle_init_producer_id(
    request_context& ctx, protocol::init_producer_id_request& req);

// groups.cc
asio::awaitable<protocol::find_coordinator_response> handle_find_coordinator(
    request_context& ctx, protocol::find_coordinator_request& req);
asio::awaitable<protocol::join_group_response> handle_join_group(request_context& ctx,
                                                                 protocol::join_group_request& req);
asio::awaitable<protocol::sync_group_response> handle_sync_group(request_context& ctx,
                                                                 protocol::sync_group_request& req);
asio::awaitable<protocol::heartbeat_response> handle_heartbeat(request_context& ctx,
                                                               protocol::heartbeat_request& req);
asio::awaitable<protocol::leave_group_response> handle_leave_group(
    request_context& ctx, protocol::leave_group_request& req);
asio::awaitable<protocol::offset_commit_response> handle_offset_commit(
    request_context& ctx, protocol::offset_commit_request& req);
asio::awaitable<protocol::offset_fetch_response> handle_offset_fetch(
    request_context& ctx, protocol::offset_fetch_request& req);
asio::awaitable<protocol::list_groups_response> handle_list_groups(
    request_context& ctx, protocol::list_groups_request& req);
asio::awaitable<protocol::describe_groups_response> handle_describe_groups(
    request_context& ctx, protocol::describe_groups_request& req);
asio::awaitable<protocol::delete_groups_response> handle_delete_groups(
    request_context& ctx, protocol::delete_groups_request& req);
asio::awaitable<protocol::offset_delete_response> handle_offset_delete(
    request_context& ctx, protocol::offset_delete_request& req);

// Whether this node may serve reads of `part` for a client that names `current_epoch`
// (KIP-320; -1: no check): NOT_LEADER_OR_FOLLOWER on a follower, FENCED_LEADER_EPOCH for
// an older epoch than the leader's, UNKNOWN_LEADER_EPOCH for a newer one (fetch.cc).
int16_t leader_error(const cluster::partition& part, int32_t current_epoch);
// What a replicated write's outcome (cluster::partition) means to a Kafka client.
int16_t replicate_error(const cluster::replicate_result& r);

}  // namespace trib::kafka
