// A thin owner of librdkafka handles for `trib`: connecting, cluster metadata, admin calls
// and watermarks, each bounded by the command's timeout and turned into an outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "cli/common.h"

namespace trib::cli {

struct broker_info {
    int32_t id = -1;
    std::string host;
    int port = 0;
};
struct partition_info {
    int32_t id = -1;
    int32_t leader = -1;  // -1: none (offline)
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};
struct topic_info {
    std::string name;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::vector<partition_info> partitions;
    bool internal() const { return name.starts_with("__"); }
};
struct cluster_info {
    std::string cluster_id;
    int32_t controller = -1;
    std::vector<broker_info> brokers;  // live ones, by id
    std::vector<topic_info> topics;    // by name
};
struct watermarks {
    int64_t low = -1;
    int64_t high = -1;
};
// A topic setting as DescribeConfigs reports it.
struct config_entry {
    std::string name;
    std::string value;
    bool is_default = true;
    bool read_only = false;
    bool sensitive = false;
};

using kafka_ptr = std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)>;

class kafka {
  public:
    // A producer handle (also used for metadata and admin calls). `extra` settings go after
    // the defaults and before the user's -X ones.
    // `customize` may set callbacks on the configuration before the handle is made.
    static outcome<kafka> connect(const options& opts, rd_kafka_type_t type = RD_KAFKA_PRODUCER,
                                  const std::map<std::string, std::string>& extra = {},
                                  const std::function<void(rd_kafka_conf_t*)>& customize = {});

    rd_kafka_t* handle() const { return _rk.get(); }
    const options& opts() const { return *_opts; }

    // Metadata of every topic (or of one: UNKNOWN_TOPIC_OR_PART if it does not exist).
    outcome<cluster_info> metadata(const std::string* topic = nullptr);
    outcome<watermarks> query_watermarks(const std::string& topic, int32_t partition);
    outcome<std::vector<config_entry>> topic_configs(const std::string& topic);

    // Runs one admin request (`start` queues it on the given queue with the given options)
    // and waits for its result event of `type`; the event is what the caller reads.
    using event_ptr = std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)>;
    template <typename Start>
    outcome<event_ptr> admin(rd_kafka_admin_op_t op, rd_kafka_event_type_t type, Start&& start);

  private:
    kafka(kafka_ptr rk, const options& opts) : _rk(std::move(rk)), _opts(&opts) {}
    outcome<event_ptr> wait_admin(rd_kafka_queue_t* queue, rd_kafka_event_type_t type);
    rd_kafka_AdminOptions_t* admin_options(rd_kafka_admin_op_t op);

    kafka_ptr _rk;
    const options* _opts;
};

template <typename Start>
outcome<kafka::event_ptr> kafka::admin(rd_kafka_admin_op_t op, rd_kafka_event_type_t type,
                                       Start&& start) {
    std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(
        rd_kafka_queue_new(_rk.get()), rd_kafka_queue_destroy);
    std::unique_ptr<rd_kafka_AdminOptions_t, void (*)(rd_kafka_AdminOptions_t*)> o(
        admin_options(op), rd_kafka_AdminOptions_destroy);
    start(_rk.get(), o.get(), queue.get());
    return wait_admin(queue.get(), type);
}

// The error of one topic or group in an admin result, as a failure naming it.
failure item_failure(const std::string& what, rd_kafka_resp_err_t err, const char* message,
                     const options& opts);

}  // namespace trib::cli
