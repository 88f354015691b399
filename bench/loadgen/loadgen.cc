// trib-loadgen: a Kafka load generator on librdkafka, for measuring any Kafka-compatible
// broker the same way. `produce` sends N records of a given size as fast as the client
// allows (or at a target rate) and reports throughput and the latency from produce() to the
// delivery report; `consume` reads N records from the start of every partition (assign, no
// group) and reports throughput and end-to-end latency from the records' timestamps.
// Prints one JSON object on stdout and a human summary on stderr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Latency samples in microseconds; percentiles by sorting at the end (runs are bounded).
struct latencies {
    std::vector<int64_t> us;
    std::string json() {
        if (us.empty()) return "{}";
        std::sort(us.begin(), us.end());
        auto at = [&](double q) {
            return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
        };
        return fmt::format(
            "{{\"p50_ms\": {:.3f}, \"p90_ms\": {:.3f}, \"p99_ms\": {:.3f}, \"p999_ms\": {:.3f}, "
            "\"max_ms\": {:.3f}}}",
            at(0.5) / 1e3, at(0.9) / 1e3, at(0.99) / 1e3, at(0.999) / 1e3, us.back() / 1e3);
    }
    // The same for people (after json(), which sorts).
    std::string human() const {
        if (us.empty()) return "no latency samples";
        auto at = [&](double q) {
            return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))] / 1e3;
        };
        return fmt::format(
            "latency ms: p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}", at(0.5),
            at(0.9), at(0.99), at(0.999), us.back() / 1e3);
    }
};

struct options {
    std::string brokers = "127.0.0.1:9092";
    std::string topic;
    int64_t records = 100000;
    size_t record_bytes = 1024;
    int partitions = 1;
    std::string acks = "all";
    std::string compression = "none";
    int linger_ms = 5;
    int batch_bytes = 1000000;
    double rate = 0;     // records per second; 0: as fast as possible
    double seconds = 0;  // produce: stop after this long (0: when `records` are sent)
    int64_t keys = -1;   // distinct keys: -1 a new key per record, 0 no keys
    bool idempotence = false;
};

struct produce_state {
    std::atomic<int64_t> delivered{0};
    std::atomic<int64_t> failed{0};
    latencies lat;  // written by the delivery callback (poll thread)
    // Produce batch sizes from librdkafka's statistics (each report covers the window since
    // the one before), so the disk can be measured at the batch size actually sent.
    double batch_bytes_sum = 0;
    int64_t batches = 0;
};

int on_statistics(rd_kafka_t*, char* json, size_t len, void* opaque) {
    auto* st = static_cast<produce_state*>(opaque);
    auto stats = nlohmann::json::parse(std::string_view(json, len), nullptr, false);
    if (stats.is_discarded() || !stats.contains("topics")) return 0;
    for (const auto& [name, topic] : stats["topics"].items()) {
        if (!topic.contains("batchsize")) continue;
        const auto& window = topic["batchsize"];
        auto count = window.value("cnt", int64_t{0});
        st->batches += count;
        st->batch_bytes_sum += window.value("avg", 0.0) * static_cast<double>(count);
    }
    return 0;  // librdkafka frees the JSON
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* st = static_cast<produce_state*>(opaque);
    if (m->err) {
        if (st->failed++ == 0) {
            std::fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        }
        return;
    }
    auto sent = reinterpret_cast<intptr_t>(m->_private);
    auto now =
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now().time_since_epoch())
            .count();
    st->lat.us.push_back(now - sent);
    ++st->delivered;
}

bool set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "%s=%s: %s\n", key, value.c_str(), err);
        return false;
    }
    return true;
}

int produce(const options& o) {
    produce_state st;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    bool ok = set(conf, "bootstrap.servers", o.brokers) && set(conf, "acks", o.acks) &&
              set(conf, "compression.type", o.compression) &&
              set(conf, "linger.ms", std::to_string(o.linger_ms)) &&
              set(conf, "batch.size", std::to_string(o.batch_bytes)) &&
              set(conf, "queue.buffering.max.kbytes", "1048576") &&
              set(conf, "enable.idempotence", o.idempotence ? "true" : "false") &&
              set(conf, "statistics.interval.ms", "500");
    if (!ok) return 2;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_stats_cb(conf, on_statistics);
    rd_kafka_conf_set_opaque(conf, &st);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        std::fprintf(stderr, "producer: %s\n", err);
        return 2;
    }
    rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
    std::string payload(o.record_bytes, 'x');
    for (size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>('a' + (i * 7919) % 26);
    auto start = clock_type::now();
    auto stop_at = o.seconds > 0 ? start + std::chrono::duration_cast<clock_type::duration>(
                                               std::chrono::duration<double>(o.seconds))
                                 : clock_type::time_point::max();
    int64_t sent_count = 0;
    for (int64_t i = 0; i < o.records && clock_type::now() < stop_at; ++i) {
        if (o.rate > 0) {
            // Wait for the record's slot, serving delivery reports meanwhile (not spinning:
            // the broker under test shares the machine).
            auto due = start + std::chrono::duration_cast<clock_type::duration>(
                                   std::chrono::duration<double>(static_cast<double>(i) / o.rate));
            for (auto now = clock_type::now(); now < due; now = clock_type::now()) {
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count();
                rd_kafka_poll(rk, static_cast<int>(std::min<int64_t>(ms, 5)));
            }
        }
        std::string key;
        if (o.keys < 0) key = fmt::format("key-{}", i);
        if (o.keys > 0) key = fmt::format("key-{}", i % o.keys);
        auto sent = std::chrono::duration_cast<std::chrono::microseconds>(
                        clock_type::now().time_since_epoch())
                        .count();
        for (;;) {
            // librdkafka stamps the CreateTime at this call.
            int rc = rd_kafka_produce(
                topic, static_cast<int32_t>(i % o.partitions), RD_KAFKA_MSG_F_COPY, payload.data(),
                payload.size(), o.keys == 0 ? nullptr : key.data(), o.keys == 0 ? 0 : key.size(),
                reinterpret_cast<void*>(static_cast<intptr_t>(sent)));
            if (rc == 0) break;
            auto e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 10);  // the client's queue is full: let deliveries drain
        }
        ++sent_count;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(rk);
    double mb = static_cast<double>(st.delivered) * static_cast<double>(o.record_bytes) / 1e6;
    fmt::print(
        "{{\"mode\": \"produce\", \"acks\": \"{}\", \"compression\": \"{}\", \"records\": {}, "
        "\"record_bytes\": {}, \"partitions\": {}, \"target_rate\": {:.0f}, "
        "\"delivered\": {}, \"failed\": {}, "
        "\"seconds\": {:.3f}, \"records_per_s\": {:.0f}, \"mb_per_s\": {:.1f}, "
        "\"mean_batch_bytes\": {:.0f}, \"latency\": {}}}\n",
        o.acks, o.compression, sent_count, o.record_bytes, o.partitions, o.rate,
        st.delivered.load(), st.failed.load(), secs, st.delivered / secs, mb / secs,
        st.batches > 0 ? st.batch_bytes_sum / static_cast<double>(st.batches) : 0.0, st.lat.json());
    std::fprintf(stderr, "produce acks=%s: %lld records in %.2f s, %.0f rec/s, %.1f MB/s\n",
                 o.acks.c_str(), static_cast<long long>(st.delivered.load()), secs,
                 st.delivered / secs, mb / secs);
    std::fprintf(stderr, "  produce() to delivery report, %s\n", st.lat.human().c_str());
    return st.failed == 0 && st.delivered == sent_count ? 0 : 1;
}

int consume(const options& o) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!set(conf, "bootstrap.servers", o.brokers) || !set(conf, "group.id", "trib-loadgen") ||
        !set(conf, "enable.auto.commit", "false") || !set(conf, "fetch.wait.max.ms", "100")) {
        return 2;
    }
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        std::fprintf(stderr, "consumer: %s\n", err);
        return 2;
    }
    auto* list = rd_kafka_topic_partition_list_new(o.partitions);
    for (int p = 0; p < o.partitions; ++p) {
        rd_kafka_topic_partition_list_add(list, o.topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    latencies lat;
    int64_t got = 0;
    uint64_t bytes = 0;
    auto start = clock_type::now();
    auto deadline = start + std::chrono::seconds(120);
    while (got < o.records && clock_type::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        if (!m->err) {
            ++got;
            bytes += m->len;
            rd_kafka_timestamp_type_t type;
            int64_t ts = rd_kafka_message_timestamp(m, &type);
            if (ts > 0) lat.us.push_back((wall_ms() - ts) * 1000);
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            std::fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    fmt::print(
        "{{\"mode\": \"consume\", \"records\": {}, \"seconds\": {:.3f}, \"records_per_s\": {:.0f}, "
        "\"mb_per_s\": {:.1f}, \"end_to_end_latency\": {}}}\n",
        got, secs, got / secs, static_cast<double>(bytes) / 1e6 / secs, lat.json());
    std::fprintf(stderr, "consume: %lld records in %.2f s, %.0f rec/s, %.1f MB/s\n",
                 static_cast<long long>(got), secs, got / secs,
                 static_cast<double>(bytes) / 1e6 / secs);
    std::fprintf(stderr, "  end to end (record timestamp to receipt), %s\n", lat.human().c_str());
    return got == o.records ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"trib-loadgen: Kafka produce/consume load on librdkafka"};
    options o;
    std::string mode;
    cli.add_option("mode", mode, "produce or consume")
        ->required()
        ->check(CLI::IsMember({"produce", "consume"}));
    cli.add_option("--brokers", o.brokers, "bootstrap servers");
    cli.add_option("--topic", o.topic, "topic (must exist)")->required();
    cli.add_option("--records", o.records, "records to send or read");
    cli.add_option("--record-bytes", o.record_bytes, "value size");
    cli.add_option("--partitions", o.partitions, "partitions to spread over / read")
        ->check(CLI::PositiveNumber);
    cli.add_option("--acks", o.acks, "0, 1 or all");
    cli.add_option("--compression", o.compression, "none, gzip, snappy, lz4, zstd");
    cli.add_option("--linger-ms", o.linger_ms, "producer linger.ms");
    cli.add_option("--batch-bytes", o.batch_bytes, "producer batch.size");
    cli.add_option("--rate", o.rate, "records per second (0: as fast as possible)");
    cli.add_option("--seconds", o.seconds, "produce: stop after this many seconds (0: no limit)");
    cli.add_option("--keys", o.keys, "distinct keys: -1 one per record, 0 none, N cycle N");
    cli.add_flag("--idempotence", o.idempotence, "enable.idempotence=true (needs --acks all)");
    CLI11_PARSE(cli, argc, argv);
    return mode == "produce" ? produce(o) : consume(o);
}
