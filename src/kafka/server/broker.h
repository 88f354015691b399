// What every request handler sees: the broker's settings and state, and the request.
// Handlers are coroutines on the connection's shard; they answer with a response body, no
// response (acks=0 produce), or a request to close the connection (a malformed request).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "base/error.h"
#include "cluster/partition_manager.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/supported_apis.h"
#include "kafka/server/bad_input.h"
#include "kafka/server/fetch_session.h"
#include "net/async_event.h"
#include "net/memory_budget.h"

namespace trib::cluster {
class producer_id_allocator;
class controller;
}  // namespace trib::cluster
namespace trib::kafka::groups {
class group_manager;
}

namespace trib::kafka {

struct broker_config {
    int32_t node_id = 0;
    std::string advertised_host = "127.0.0.1";
    int32_t advertised_port = 9092;
    bool auto_create_topics = false;
    int32_t default_partitions = 1;
    int16_t default_replication_factor = 1;
    int64_t max_request_bytes = int64_t{100} * 1024 * 1024;
    int64_t idle_timeout_ms = int64_t{10} * 60 * 1000;
    // Once a request's size prefix is in, its bytes must arrive within this (or the
    // connection closes): a stalled request holds memory.
    int64_t request_read_timeout_ms = 10'000;
    // The longest a Fetch waits for min_bytes, whatever its max_wait_ms says.
    int64_t max_fetch_wait_ms = 30'000;
    // Bytes of requests being served across all connections (queued.max.request.bytes).
    int64_t max_request_memory = int64_t{256} * 1024 * 1024;
    // Incremental fetch sessions (KIP-227): Kafka's max.incremental.fetch.session.cache.slots
    // and min.incremental.fetch.session.eviction.ms.
    size_t fetch_session_slots = 1000;
    int64_t fetch_session_eviction_ms = 120'000;
    // Only described (DescribeConfigs on the broker): the rest of the node's configuration.
    std::string listen_host = "127.0.0.1";
    int32_t listen_port = 9092;
    std::string data_dir;
    int32_t event_loops = 1;
    int32_t max_connections = 10000;
    int32_t group_min_session_timeout_ms = 6000;
    int32_t group_max_session_timeout_ms = 1'800'000;
    int32_t group_initial_rebalance_delay_ms = 3000;
    int64_t offsets_retention_ms = int64_t{7} * 24 * 3600 * 1000;
    int32_t offsets_partitions = 16;
    int32_t offsets_replication_factor = 3;
    // A deliberately broken mode for the chaos harness's self-test, never for use:
    // acks=all is answered once the leader has the batch, before a majority does.
    // Set only by the environment variable TRIBUTARY_UNSAFE_CANARY=ack-before-commit.
    bool canary_ack_before_commit = false;
};

struct broker {
    broker(broker_config c, cluster::partition_manager& pm, groups::group_manager& gm)
        : config(std::move(c)),
          partitions(pm),
          groups(&gm),
          request_memory(static_cast<size_t>(config.max_request_memory)),
          fetch_sessions(config.fetch_session_slots, config.fetch_session_eviction_ms) {}

    broker_config config;
    cluster::partition_manager& partitions;
    groups::group_manager* groups;
    cluster::producer_id_allocator* producer_ids = nullptr;
    cluster::controller* controller = nullptr;
    net::memory_budget request_memory;
    fetch_session_cache fetch_sessions;
    bad_input_log bad_input;
};

// A connection's end, as the requests on it see it: a request that waits (a Fetch long poll)
// watches it, so it ends when its client goes rather than holding memory until its deadline.
// Used only on the connection's executor.
class connection_closing {
  public:
    bool closed() const { return _closed; }
    // `event` is signalled when the connection closes (at once if it has).
    void watch(const std::shared_ptr<net::async_event>& event);
    void close();

  private:
    bool _closed = false;
    std::vector<std::weak_ptr<net::async_event>> _watchers;
};

struct request_context {
    broker& b;
    protocol::request_frame& frame;
    asio::any_io_executor executor;
    std::string client_host;  // the peer's address, for DescribeGroups
    connection_closing& closing;
    // The frame's bytes: freed once the body is decoded (the decoded request holds what it
    // keeps), so a parked request does not hold its frame too.
    protocol::bytes& frame_bytes;
    int16_t version() const { return frame.header.request_api_version; }
};

struct handler_result {
    std::optional<protocol::bytes> body;  // nullopt and !close: no response
    bool close = false;
    int16_t error_code = 0;  // the answer's first error (for metrics)
};

// The APIs and versions this broker serves (what ApiVersions advertises).
std::span<const protocol::supported_api> supported_apis();

// Runs the handler of the request's API. Unknown APIs and unsupported versions close the
// connection, except ApiVersions, which answers any version (KIP-511).
asio::awaitable<handler_result> dispatch(request_context& ctx);

// Topics the broker writes itself (the group log): clients may read them, not write, delete
// or repartition them.
bool is_internal_topic(const std::string& name);

// The error for a partition this node does not serve: NOT_LEADER_OR_FOLLOWER when the
// topic and partition exist (another node serves it), else UNKNOWN_TOPIC_OR_PARTITION.
int16_t missing_partition_error(const broker& b, const std::string& topic, int32_t index);

// The brokers Metadata and DescribeCluster list: registered and not fenced.
std::vector<const cluster::core::broker*> live_brokers(const cluster::core::image& img);
// Metadata's and DescribeCluster's controller_id: this node, which forwards to the leader.
int32_t controller_id(const broker& b);

// Maps a cluster error to its Kafka error code.
int16_t error_code_of(const error& e);

}  // namespace trib::kafka
