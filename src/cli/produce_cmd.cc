// trib produce TOPIC: one record per line of stdin.
#include <array>
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/kafka.h"
#include "cli/output.h"

namespace trib::cli {

namespace {

struct produce_args {
    std::string topic;
    int32_t partition = RD_KAFKA_PARTITION_UA;  // unassigned: the key (or none) decides
    std::string key_separator;                  // empty: lines have no key
    std::vector<std::string> headers;           // name=value, on every record
    std::string compression = "none";
    std::string acks = "all";
};

// Delivery reports, counted on the thread that polls.
struct deliveries {
    uint64_t delivered = 0;
    uint64_t failed = 0;
    rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* d = static_cast<deliveries*>(opaque);
    if (m->err) {
        ++d->failed;
        if (!d->first_error) d->first_error = m->err;
    } else {
        ++d->delivered;
    }
}

outcome<> produce(const options& opts, const produce_args& a) {
    deliveries d;
    std::map<std::string, std::string> settings{
        {"acks", a.acks == "all" ? "-1" : a.acks},
        {"enable.idempotence", a.acks == "all" ? "true" : "false"},
        {"compression.type", a.compression},
        {"linger.ms", "5"},
        {"message.timeout.ms", std::to_string(opts.timeout_ms())},
    };
    auto k = TRIB_TRY(kafka::connect(opts, RD_KAFKA_PRODUCER, settings, [&](rd_kafka_conf_t* c) {
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
        rd_kafka_conf_set_opaque(c, &d);
    }));
    TRIB_TRY(k.metadata(&a.topic));  // an unknown topic is said at once, not after a timeout
    std::vector<std::pair<std::string, std::string>> headers;
    for (const std::string& h : a.headers)
        headers.push_back(TRIB_TRY(split_assignment(h, "-H")));

    bool progress = isatty(STDERR_FILENO) != 0;
    auto last_progress = std::chrono::steady_clock::now();
    uint64_t sent = 0;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::string_view key;
        std::string_view value = line;
        bool keyed = false;
        if (!a.key_separator.empty()) {
            if (auto at = line.find(a.key_separator); at != std::string::npos) {
                key = std::string_view(line).substr(0, at);
                value = std::string_view(line).substr(at + a.key_separator.size());
                keyed = true;
            }
        }
        rd_kafka_headers_t* hs = nullptr;
        if (!headers.empty()) {
            hs = rd_kafka_headers_new(headers.size());
            for (const auto& [n, v] : headers) {
                rd_kafka_header_add(hs, n.data(), static_cast<ssize_t>(n.size()), v.data(),
                                    static_cast<ssize_t>(v.size()));
            }
        }
        for (;;) {
            std::array<rd_kafka_vu_t, 6> vu{};
            vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
            vu[0].u.cstr = a.topic.c_str();
            vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
            vu[1].u.i32 = a.partition;
            vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
            vu[2].u.mem = {const_cast<char*>(value.data()), value.size()};
            vu[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
            vu[3].u.i = RD_KAFKA_MSG_F_COPY;
            size_t count = 4;
            if (keyed) {
                vu[count].vtype = RD_KAFKA_VTYPE_KEY;
                vu[count++].u.mem = {const_cast<char*>(key.data()), key.size()};
            }
            if (hs) {
                vu[count].vtype = RD_KAFKA_VTYPE_HEADERS;
                vu[count++].u.headers = hs;
            }
            rd_kafka_error_t* error = rd_kafka_produceva(k.handle(), vu.data(), count);
            rd_kafka_resp_err_t err =
                error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
            if (error) rd_kafka_error_destroy(error);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(k.handle(), 100);  // wait for room
                continue;
            }
            if (err) {
                if (hs) rd_kafka_headers_destroy(hs);
                return unexpected(kafka_failure(err, fmt::format("record {}", sent + 1), opts));
            }
            break;  // the headers belong to the record now
        }
        ++sent;
        rd_kafka_poll(k.handle(), 0);
        if (progress &&
            std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(1)) {
            last_progress = std::chrono::steady_clock::now();
            fmt::print(stderr, "\rtrib: {} records sent, {} acknowledged", sent, d.delivered);
        }
    }
    while (rd_kafka_outq_len(k.handle()) > 0 && d.delivered + d.failed < sent) {
        rd_kafka_poll(k.handle(), 100);  // every record ends within message.timeout.ms
    }
    if (progress && sent > 0) fmt::print(stderr, "\r\033[K");
    if (opts.format == output_format::json) {
        print_json({{"topic", a.topic}, {"produced", d.delivered}, {"failed", d.failed}});
    } else {
        fmt::print("produced {} records to {}\n", d.delivered, a.topic);
    }
    if (d.failed > 0) {
        failure f = kafka_failure(d.first_error, "", opts);
        return fail(fmt::format("{} of {} records were not acknowledged; the first error: {}",
                                d.failed, sent, f.message),
                    f.code);
    }
    return {};
}

}  // namespace

void add_produce_command(CLI::App& app, context& ctx) {
    auto a = std::make_shared<produce_args>();
    auto* p = app.add_subcommand("produce", "Write one record per line of standard input");
    p->add_option("topic", a->topic, "Topic to write to")->required();
    p->add_option("-p,--partition", a->partition, "Partition (default: by key, else spread)")
        ->check(CLI::NonNegativeNumber);
    p->add_option("-k,--key-separator", a->key_separator,
                  "Lines are key<SEP>value, split at the first SEP");
    p->add_option("-H,--header", a->headers, "A header name=value on every record (repeatable)");
    p->add_option("-z,--compression", a->compression, "none, gzip, snappy, lz4 or zstd")
        ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
    p->add_option("-a,--acks", a->acks,
                  "all (committed on a majority; idempotent), 1 (the leader wrote it) or 0 (none)")
        ->check(CLI::IsMember({"all", "1", "0"}));
    p->callback([&ctx, a] { ctx.run = [&ctx, a] { return produce(ctx.opts, *a); }; });
}

}  // namespace trib::cli
