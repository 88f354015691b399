// One coroutine per API, each in the file named for its area. The message types are
// declared here only; the handler files include their generated headers.
#pragma once

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
struct create_topics_request;
struct create_topics_response;
struct delete_topics_request;
struct delete_topics_response;
struct create_partitions_request;
struct create_partitions_response;
struct delete_records_request;
struct delete_records_response;
struct describe_cluster_request;
struct describe_cluster_response;
struct describe_configs_request;
struct describe_configs_response;
struct alter_configs_request;
struct alter_configs_response;
struct incremental_alter_configs_request;
struct incremental_alter_configs_response;

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
asio::awaitable<protocol::create_topics_response> handle_create_topics(
    request_context& ctx, protocol::create_topics_request& req);
asio::awaitable<protocol::delete_topics_response> handle_delete_topics(
    request_context& ctx, protocol::delete_topics_request& req);

asio::awaitable<protocol::create_partitions_response> handle_create_partitions(
    request_context& ctx, protocol::create_partitions_request& req);
asio::awaitable<protocol::delete_records_response> handle_delete_records(
    request_context& ctx, protocol::delete_records_request& req);
asio::awaitable<protocol::describe_cluster_response> handle_describe_cluster(
    request_context& ctx, protocol::describe_cluster_request& req);
asio::awaitable<protocol::describe_configs_response> handle_describe_configs(
    request_context& ctx, protocol::describe_configs_request& req);
asio::awaitable<protocol::alter_configs_response> handle_alter_configs(
    request_context& ctx, protocol::alter_configs_request& req);
asio::awaitable<protocol::incremental_alter_configs_response> handle_incremental_alter_configs(
    request_context& ctx, protocol::incremental_alter_configs_request& req);

}  // namespace trib::kafka
