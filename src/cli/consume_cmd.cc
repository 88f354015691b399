// trib consume TOPIC: print records, in assign mode (all or some partitions, from an offset
// or a time) or as a member of a consumer group.
#include <atomic>
#include <csignal>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/kafka.h"
#include "cli/output.h"

namespace trib::cli {

namespace {

struct consume_args {
    std::string topic;
    std::vector<int32_t> partitions;  // assign mode: empty means all
    std::string offset;               // beginning, end, N, -N, @timestamp_ms
    std::string group;                // group mode
    std::string record_format = "%s\\n";
    int64_t count = -1;
    bool exit_at_end = false;
};

std::atomic<bool> stop_requested{false};
extern "C" void request_stop(int) {
    stop_requested = true;
}

struct start_point {
    int64_t offset = RD_KAFKA_OFFSET_BEGINNING;
    std::optional<int64_t> timestamp_ms;
};

outcome<start_point> parse_offset(const std::string& text, bool group_mode) {
    if (text.empty())
        return start_point{group_mode ? RD_KAFKA_OFFSET_STORED : RD_KAFKA_OFFSET_BEGINNING, {}};
    if (text == "beginning") return start_point{RD_KAFKA_OFFSET_BEGINNING, {}};
    if (text == "end") return start_point{RD_KAFKA_OFFSET_END, {}};
    if (text.starts_with('@')) {
        if (auto ts = parse_non_negative(std::string_view(text).substr(1)))
            return start_point{0, *ts};
    } else if (text.starts_with('-')) {
        if (auto n = parse_non_negative(std::string_view(text).substr(1))) {
            return start_point{RD_KAFKA_OFFSET_TAIL(*n), {}};
        }
    } else if (auto n = parse_non_negative(text)) {
        return start_point{*n, {}};
    }
    return fail(fmt::format("--offset takes beginning, end, an offset N, -N (the last N) or "
                            "@TIMESTAMP_MS, not \"{}\"",
                            text),
                exit_code::usage);
}

std::string_view bytes(const void* p, size_t n) {
    return p ? std::string_view(static_cast<const char*>(p), n) : std::string_view();
}

std::vector<std::pair<std::string, std::string>> headers_of(const rd_kafka_message_t* m) {
    std::vector<std::pair<std::string, std::string>> out;
    rd_kafka_headers_t* hs = nullptr;
    if (rd_kafka_message_headers(m, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(hs, i, &name, &value, &size) == 0; ++i) {
        out.emplace_back(name, std::string(bytes(value, size)));
    }
    return out;
}

// kcat's -f: %t topic, %p partition, %o offset, %k key, %s value, %K and %S their lengths
// (-1 for null), %T timestamp (ms), %h headers (name=value,...), %% and \n \t \\.
std::string render(const std::string& f, const rd_kafka_message_t* m) {
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if ((c == '%' || c == '\\') && i + 1 < f.size()) {
            char n = f[++i];
            if (c == '\\') {
                out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
                continue;
            }
            switch (n) {
                case 't':
                    out += rd_kafka_topic_name(m->rkt);
                    break;
                case 'p':
                    out += std::to_string(m->partition);
                    break;
                case 'o':
                    out += std::to_string(m->offset);
                    break;
                case 'k':
                    out += bytes(m->key, m->key_len);
                    break;
                case 's':
                    out += bytes(m->payload, m->len);
                    break;
                case 'K':
                    out += std::to_string(m->key ? static_cast<int64_t>(m->key_len) : -1);
                    break;
                case 'S':
                    out += std::to_string(m->payload ? static_cast<int64_t>(m->len) : -1);
                    break;
                case 'T':
                    out += std::to_string(rd_kafka_message_timestamp(m, nullptr));
                    break;
                case 'h': {
                    bool first = true;
                    for (const auto& [k, v] : headers_of(m)) {
                        out.append(first ? "" : ",").append(k).append("=").append(v);
                        first = false;
                    }
                    break;
                }
                case '%':
                    out += '%';
                    break;
                default:
                    out += c;
                    out += n;
            }
            continue;
        }
        out += c;
    }
    return out;
}

std::string as_json(const rd_kafka_message_t* m) {
    nlohmann::json h = nlohmann::json::object();
    for (const auto& [k, v] : headers_of(m))
        h[k] = v;
    nlohmann::json j{
        {"topic", rd_kafka_topic_name(m->rkt)},
        {"partition", m->partition},
        {"offset", m->offset},
        {"timestamp", rd_kafka_message_timestamp(m, nullptr)},
        {"key", m->key ? nlohmann::json(std::string(bytes(m->key, m->key_len))) : nullptr},
        {"value", m->payload ? nlohmann::json(std::string(bytes(m->payload, m->len))) : nullptr},
        {"headers", h}};
    // Binary keys and values are not UTF-8: their bad bytes print as U+FFFD.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

using list_ptr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;

outcome<> consume(const options& opts, const consume_args& a) {
    bool group_mode = !a.group.empty();
    if (group_mode && !a.partitions.empty()) {
        return fail("--partition is for assign mode; a group decides its own assignment",
                    exit_code::usage);
    }
    start_point start = TRIB_TRY(parse_offset(a.offset, group_mode));
    std::map<std::string, std::string> settings{{"enable.partition.eof", "true"}};
    // librdkafka's consumer wants a group id even to assign: in assign mode it names one it
    // never joins or commits to.
    settings["group.id"] = group_mode ? a.group : "trib-assign";
    settings["enable.auto.commit"] = group_mode ? "true" : "false";
    if (group_mode) {
        settings["auto.offset.reset"] = start.offset == RD_KAFKA_OFFSET_END ? "latest" : "earliest";
    }
    auto k = TRIB_TRY(kafka::connect(opts, RD_KAFKA_CONSUMER, settings));
    auto c = TRIB_TRY(k.metadata(&a.topic));
    rd_kafka_t* rk = k.handle();
    rd_kafka_poll_set_consumer(rk);
    list_ptr list(rd_kafka_topic_partition_list_new(1), rd_kafka_topic_partition_list_destroy);
    if (group_mode) {
        rd_kafka_topic_partition_list_add(list.get(), a.topic.c_str(), RD_KAFKA_PARTITION_UA);
        if (auto err = rd_kafka_subscribe(rk, list.get()); err) {
            return unexpected(kafka_failure(err, "subscribe", opts));
        }
    } else {
        std::set<int32_t> known;
        for (const partition_info& p : c.topics.front().partitions)
            known.insert(p.id);
        std::vector<int32_t> chosen = a.partitions;
        if (chosen.empty()) chosen.assign(known.begin(), known.end());
        for (int32_t p : chosen) {
            if (!known.contains(p)) {
                return fail(
                    fmt::format("{} has no partition {} (it has {})", a.topic, p, known.size()));
            }
            rd_kafka_topic_partition_list_add(list.get(), a.topic.c_str(), p)->offset =
                start.timestamp_ms ? *start.timestamp_ms : start.offset;
        }
        if (start.timestamp_ms) {
            if (auto err = rd_kafka_offsets_for_times(rk, list.get(), opts.timeout_ms()); err) {
                return unexpected(kafka_failure(err, "offsets for the timestamp", opts));
            }
            for (int i = 0; i < list->cnt; ++i) {
                // No record at or after the time: start at the end.
                if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_END;
            }
        }
        if (auto err = rd_kafka_assign(rk, list.get()); err) {
            return unexpected(kafka_failure(err, "assign", opts));
        }
    }
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    int64_t printed = 0;
    std::set<int32_t> at_end;
    std::optional<failure> error;
    while (!stop_requested && (a.count < 0 || printed < a.count)) {
        std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> m(
            rd_kafka_consumer_poll(rk, 200), rd_kafka_message_destroy);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end.insert(m->partition);
            if (a.exit_at_end) {
                list_ptr assigned(nullptr, rd_kafka_topic_partition_list_destroy);
                rd_kafka_topic_partition_list_t* raw = nullptr;
                if (!rd_kafka_assignment(rk, &raw)) assigned.reset(raw);
                if (assigned && assigned->cnt > 0 &&
                    at_end.size() >= static_cast<size_t>(assigned->cnt))
                    break;
            }
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
                error = kafka_failure(m->err, rd_kafka_message_errstr(m.get()), opts);
                break;
            }
            if (opts.verbose) fmt::print(stderr, "trib: {}\n", rd_kafka_message_errstr(m.get()));
            continue;  // transient (a leader moving, a broker restarting): the client retries
        }
        at_end.erase(m->partition);
        std::string text = opts.format == output_format::json ? as_json(m.get())
                                                              : render(a.record_format, m.get());
        fwrite(text.data(), 1, text.size(), stdout);
        ++printed;
    }
    fflush(stdout);
    rd_kafka_consumer_close(rk);  // a group member leaves and commits what it printed
    if (error) return unexpected(*error);
    return {};
}

}  // namespace

void add_consume_command(CLI::App& app, context& ctx) {
    auto a = std::make_shared<consume_args>();
    auto* c = app.add_subcommand("consume", "Print a topic's records");
    c->add_option("topic", a->topic, "Topic to read")->required();
    c->add_option("-o,--offset", a->offset,
                  "Where to start: beginning (default), end, N, -N (the last N per partition), "
                  "@TIMESTAMP_MS; in a group: its committed offsets, else beginning or end");
    c->add_option("-p,--partition", a->partitions, "Only these partitions (repeatable)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("-g,--group", a->group, "Read as a member of this consumer group (commits)");
    c->add_option("-f,--format-string", a->record_format,
                  "How to print a record (kcat's -f): %t %p %o %k %s %K %S %T %h, \\n \\t");
    c->add_option("-n,--count", a->count, "Stop after this many records")
        ->check(CLI::NonNegativeNumber);
    c->add_flag("-e,--exit", a->exit_at_end, "Stop at the end of every partition");
    c->callback([&ctx, a] { ctx.run = [&ctx, a] { return consume(ctx.opts, *a); }; });
}

}  // namespace trib::cli
