#include "cli/kafka.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>

#include <fmt/format.h>

namespace trib::cli {

namespace {

void quiet_log(const rd_kafka_t*, int, const char*, const char*) {}

// Set by librdkafka's error callback once every bootstrap broker refused or dropped us: a
// command then says so at once rather than at its timeout. One client handle per process.
std::atomic<bool> all_brokers_down{false};

void on_error(rd_kafka_t*, int err, const char*, void*) {
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) all_brokers_down = true;
}

void verbose_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
    fmt::print(stderr, "trib: librdkafka {} {}: {}\n", level, fac, buf);
}

outcome<void> set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
    std::array<char, 512> err{};
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err.data(), err.size()) !=
        RD_KAFKA_CONF_OK) {
        return fail(fmt::format("client setting {}={}: {}", name, value, err.data()),
                    exit_code::usage);
    }
    return {};
}

}  // namespace

outcome<kafka> kafka::connect(const options& opts, rd_kafka_type_t type,
                              const std::map<std::string, std::string>& extra,
                              const std::function<void(rd_kafka_conf_t*)>& customize) {
    std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)> conf(rd_kafka_conf_new(),
                                                                      rd_kafka_conf_destroy);
    std::map<std::string, std::string> settings{
        {"bootstrap.servers", opts.brokers},
        {"client.id", "trib"},
        {"socket.connection.setup.timeout.ms", std::to_string(std::max(1000, opts.timeout_ms()))},
        {"log.connection.close", "false"},
    };
    for (const auto& [k, v] : extra) {
        settings[k] = v;
    }
    for (const std::string& x : opts.client_config) {
        auto kv = split_assignment(x, "-X");
        if (!kv) {
            return unexpected(kv.error());
        }
        settings[kv->first] = kv->second;
    }
    for (const auto& [k, v] : settings) {
        if (auto st = set(conf.get(), k, v); !st) {
            return unexpected(st.error());
        }
    }
    rd_kafka_conf_set_log_cb(conf.get(), opts.verbose ? verbose_log : quiet_log);
    rd_kafka_conf_set_error_cb(conf.get(), on_error);
    if (customize) customize(conf.get());
    std::array<char, 512> err{};
    rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err.data(), err.size());
    if (rk == nullptr) {
        return fail(fmt::format("cannot start a Kafka client: {}", err.data()), exit_code::usage);
    }
    (void)conf.release();  // rd_kafka_new owns it now
    return kafka(kafka_ptr(rk, rd_kafka_destroy), opts);
}

outcome<cluster_info> kafka::metadata(const std::string* topic) {
    const rd_kafka_metadata_t* md = nullptr;
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(_opts->timeout_ms());
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (;;) {
        // Asked in short steps so that "every broker is down" ends the wait early.
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        int step = static_cast<int>(std::clamp<int64_t>(left.count(), 1, 500));
        err = rd_kafka_metadata(_rk.get(), 1, nullptr, &md, step);
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT) break;
        rd_kafka_poll(_rk.get(), 0);  // serves the error callback
        if (all_brokers_down) {
            return unexpected(
                kafka_failure(RD_KAFKA_RESP_ERR__TRANSPORT, "connection refused or lost", *_opts));
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT) {
            return unexpected(kafka_failure(RD_KAFKA_RESP_ERR__TRANSPORT,
                                            fmt::format("no answer within {} s", _opts->timeout_s),
                                            *_opts));
        }
        return unexpected(kafka_failure(err, "", *_opts));
    }
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
        md, rd_kafka_metadata_destroy);
    cluster_info info;
    for (int i = 0; i < md->broker_cnt; ++i) {
        info.brokers.push_back({md->brokers[i].id, md->brokers[i].host ? md->brokers[i].host : "",
                                md->brokers[i].port});
    }
    std::sort(info.brokers.begin(), info.brokers.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (int i = 0; i < md->topic_cnt; ++i) {
        const rd_kafka_metadata_topic_t& t = md->topics[i];
        if (topic != nullptr && *topic != t.topic) {
            continue;
        }
        topic_info ti{.name = t.topic, .error = t.err, .partitions = {}};
        for (int p = 0; p < t.partition_cnt; ++p) {
            const rd_kafka_metadata_partition_t& mp = t.partitions[p];
            partition_info pi{
                .id = mp.id, .leader = mp.leader, .replicas = {}, .isr = {}, .error = mp.err};
            pi.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
            pi.isr.assign(mp.isrs, mp.isrs + mp.isr_cnt);
            ti.partitions.push_back(std::move(pi));
        }
        std::sort(ti.partitions.begin(), ti.partitions.end(),
                  [](const auto& a, const auto& b) { return a.id < b.id; });
        info.topics.push_back(std::move(ti));
    }
    std::sort(info.topics.begin(), info.topics.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    if (topic != nullptr && (info.topics.empty() || info.topics.front().error ==
                                                        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)) {
        return unexpected(kafka_failure(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                        fmt::format("no topic named '{}'", *topic), *_opts));
    }
    if (char* id = rd_kafka_clusterid(_rk.get(), _opts->timeout_ms())) {
        info.cluster_id = id;
        rd_kafka_mem_free(_rk.get(), id);
    }
    info.controller = rd_kafka_controllerid(_rk.get(), _opts->timeout_ms());
    return info;
}

outcome<watermarks> kafka::query_watermarks(const std::string& topic, int32_t partition) {
    watermarks w;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        _rk.get(), topic.c_str(), partition, &w.low, &w.high, _opts->timeout_ms());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return unexpected(
            kafka_failure(err, fmt::format("offsets of {}-{}", topic, partition), *_opts));
    }
    return w;
}

outcome<std::vector<config_entry>> kafka::topic_configs(const std::string& topic) {
    auto ev = admin(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT,
                    [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                        rd_kafka_ConfigResource_t* res =
                            rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
                        rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
                        rd_kafka_ConfigResource_destroy(res);
                    });
    if (!ev) {
        return unexpected(ev.error());
    }
    size_t n = 0;
    const rd_kafka_ConfigResource_t** res = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev->get()), &n);
    if (n != 1) {
        return fail("DescribeConfigs answered no resource");
    }
    if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[0]); err) {
        return unexpected(
            item_failure(topic, err, rd_kafka_ConfigResource_error_string(res[0]), *_opts));
    }
    size_t count = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(res[0], &count);
    std::vector<config_entry> out;
    for (size_t i = 0; i < count; ++i) {
        const char* value = rd_kafka_ConfigEntry_value(entries[i]);
        out.push_back({.name = rd_kafka_ConfigEntry_name(entries[i]),
                       .value = value ? value : "",
                       .is_default = rd_kafka_ConfigEntry_is_default(entries[i]) != 0,
                       .read_only = rd_kafka_ConfigEntry_is_read_only(entries[i]) != 0,
                       .sensitive = rd_kafka_ConfigEntry_is_sensitive(entries[i]) != 0});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

rd_kafka_AdminOptions_t* kafka::admin_options(rd_kafka_admin_op_t op) {
    rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(_rk.get(), op);
    std::array<char, 256> err{};
    rd_kafka_AdminOptions_set_request_timeout(o, _opts->timeout_ms(), err.data(), err.size());
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS) {
        // The broker answers once the change is in place, not as soon as it is accepted.
        rd_kafka_AdminOptions_set_operation_timeout(o, _opts->timeout_ms(), err.data(), err.size());
    }
    return o;
}

outcome<kafka::event_ptr> kafka::wait_admin(rd_kafka_queue_t* queue, rd_kafka_event_type_t type) {
    // librdkafka ends the request at its own timeout; the margin only guards against a hang.
    event_ptr ev(rd_kafka_queue_poll(queue, _opts->timeout_ms() + 5000), rd_kafka_event_destroy);
    if (!ev) {
        return unexpected(kafka_failure(RD_KAFKA_RESP_ERR__TIMED_OUT, "", *_opts));
    }
    if (rd_kafka_event_type(ev.get()) != type) {
        return fail(fmt::format("unexpected answer: {}", rd_kafka_event_name(ev.get())));
    }
    if (rd_kafka_resp_err_t err = rd_kafka_event_error(ev.get()); err) {
        const char* what = rd_kafka_event_error_string(ev.get());
        return unexpected(kafka_failure(err, what ? what : "", *_opts));
    }
    return ev;
}

failure item_failure(const std::string& what, rd_kafka_resp_err_t err, const char* message,
                     const options& opts) {
    std::string detail = message && *message ? std::string(message) : rd_kafka_err2str(err);
    return kafka_failure(err, fmt::format("{}: {}", what, detail), opts);
}

}  // namespace trib::cli
