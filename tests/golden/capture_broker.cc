// A stand-in broker that records the request frames real Kafka clients send, for the golden
// tests of the protocol codecs (tests/golden/capture.py drives the clients). It answers with
// just enough, encoded by our generated codecs, to lead a client from connect to produce,
// fetch, group join, offset commit and topic creation: one topic, one partition, no data.
// The first frame of each (client id, API, version) is written as hex to the output folder.
//
// Usage: golden_capture_broker <port> <output-dir>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kafka/protocol/api_versions.h"
#include "kafka/protocol/consumer_protocol_assignment.h"
#include "kafka/protocol/create_topics.h"
#include "kafka/protocol/fetch.h"
#include "kafka/protocol/find_coordinator.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/heartbeat.h"
#include "kafka/protocol/init_producer_id.h"
#include "kafka/protocol/join_group.h"
#include "kafka/protocol/leave_group.h"
#include "kafka/protocol/list_offsets.h"
#include "kafka/protocol/metadata.h"
#include "kafka/protocol/offset_commit.h"
#include "kafka/protocol/offset_fetch.h"
#include "kafka/protocol/produce.h"
#include "kafka/protocol/sync_group.h"

namespace kp = trib::kafka::protocol;
using kp::bytes;

namespace {

constexpr const char* host = "127.0.0.1";
constexpr const char* golden_topic = "golden";
int port = 0;
std::filesystem::path out_dir;
std::mutex out_mutex;

void record(const kp::request_frame& f, std::span<const uint8_t> frame) {
    std::string client = f.header.client_id.value_or("null");
    std::string name = f.api ? std::string(f.api->name) : "Unknown";
    auto path = out_dir / fmt::format("{}-{}-v{}.hex", client, name, f.header.request_api_version);
    std::lock_guard lock(out_mutex);
    if (std::filesystem::exists(path)) return;
    std::ofstream out(path);
    for (uint8_t b : frame)
        out << fmt::format("{:02x}", b);
    out << "\n";
    fmt::print("captured {}\n", path.filename().string());
}

template <typename Request>
std::optional<Request> body_of(const kp::request_frame& f) {
    auto r = kp::decode<Request>(f.body, f.header.request_api_version);
    if (!r) return std::nullopt;
    return std::move(*r);
}

template <typename Response>
std::optional<bytes> encoded(const Response& resp, int16_t v) {
    auto out = kp::encode(resp, v);
    if (!out) {
        fmt::print(stderr, "encoding {} v{} failed: {}\n", typeid(Response).name(), v,
                   out.error().message());
        return std::nullopt;
    }
    return std::move(*out);
}

std::optional<bytes> api_versions(int16_t v) {
    kp::api_versions_response resp;
    if (!kp::api_versions_response::valid_versions.contains(v)) {
        resp.error_code = 35;  // UNSUPPORTED_VERSION, answered at v0
        v = 0;
    }
    for (const auto& api : kp::all_apis()) {
        resp.api_keys.push_back({api.key, api.versions.min, api.versions.max, {}});
    }
    return encoded(resp, v);
}

std::optional<bytes> metadata(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::metadata_request>(f);
    if (!req) return std::nullopt;
    kp::metadata_response resp;
    resp.brokers.push_back({0, host, port, std::nullopt, {}});
    if (v >= 2) resp.cluster_id = "golden-cluster";
    if (v >= 1) resp.controller_id = 0;
    std::vector<std::string> names;
    if (req->topics && !req->topics->empty()) {
        for (const auto& t : *req->topics)
            names.push_back(t.name.value_or(golden_topic));
    } else {
        names.push_back(golden_topic);
    }
    for (const auto& name : names) {
        kp::metadata_response::metadata_response_topic t;
        t.name = name;
        kp::metadata_response::metadata_response_partition p;
        p.leader_id = 0;
        if (v >= 7) p.leader_epoch = 0;
        p.replica_nodes = {0};
        p.isr_nodes = {0};
        t.partitions.push_back(p);
        resp.topics.push_back(std::move(t));
    }
    return encoded(resp, v);
}

std::optional<bytes> produce(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::produce_request>(f);
    if (!req) return std::nullopt;
    kp::produce_response resp;
    for (const auto& t : req->topic_data) {
        kp::produce_response::topic_produce_response tr;
        tr.name = t.name;
        for (const auto& p : t.partition_data) {
            kp::produce_response::partition_produce_response pr;
            pr.index = p.index;
            if (v >= 5) pr.log_start_offset = 0;
            tr.partition_responses.push_back(pr);
        }
        resp.responses.push_back(std::move(tr));
    }
    return encoded(resp, v);
}

std::optional<bytes> fetch(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::fetch_request>(f);
    if (!req) return std::nullopt;
    // An empty partition: wait as a real broker would, so clients do not spin.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(req->max_wait_ms, 500)));
    kp::fetch_response resp;
    for (const auto& t : req->topics) {
        kp::fetch_response::fetchable_topic_response tr;
        tr.topic = t.topic;
        for (const auto& p : t.partitions) {
            kp::fetch_response::partition_data pd;
            pd.partition_index = p.partition;
            if (v >= 4) {
                pd.last_stable_offset = 0;
                pd.aborted_transactions.emplace();
            }
            if (v >= 5) pd.log_start_offset = 0;
            pd.records = bytes{};
            tr.partitions.push_back(std::move(pd));
        }
        resp.responses.push_back(std::move(tr));
    }
    return encoded(resp, v);
}

std::optional<bytes> list_offsets(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::list_offsets_request>(f);
    if (!req) return std::nullopt;
    kp::list_offsets_response resp;
    for (const auto& t : req->topics) {
        kp::list_offsets_response::list_offsets_topic_response tr;
        tr.name = t.name;
        for (const auto& p : t.partitions) {
            kp::list_offsets_response::list_offsets_partition_response pr;
            pr.partition_index = p.partition_index;
            if (v == 0) {
                pr.old_style_offsets = {0};
            } else {
                pr.offset = 0;
            }
            tr.partitions.push_back(pr);
        }
        resp.topics.push_back(std::move(tr));
    }
    return encoded(resp, v);
}

std::optional<bytes> find_coordinator(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::find_coordinator_request>(f);
    if (!req) return std::nullopt;
    kp::find_coordinator_response resp;
    if (v < 4) {
        resp.host = host;
        resp.port = port;
    } else {
        for (const auto& key : req->coordinator_keys) {
            resp.coordinators.push_back({key, 0, host, port, 0, std::nullopt, {}});
        }
    }
    return encoded(resp, v);
}

std::optional<bytes> join_group(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::join_group_request>(f);
    if (!req || req->protocols.empty()) return std::nullopt;
    kp::join_group_response resp;
    resp.generation_id = 1;
    resp.member_id = req->member_id.empty() ? "golden-member" : req->member_id;
    resp.leader = resp.member_id;
    resp.protocol_name = req->protocols.front().name;
    if (v >= 7) resp.protocol_type = req->protocol_type;
    resp.members.push_back(
        {resp.member_id, req->group_instance_id, req->protocols.front().metadata, {}});
    return encoded(resp, v);
}

std::optional<bytes> sync_group(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::sync_group_request>(f);
    if (!req) return std::nullopt;
    kp::consumer_protocol_assignment assignment;
    assignment.assigned_partitions.push_back({golden_topic, {0}, {}});
    kp::writer w;
    w.write_int16(0);  // the consumer protocol's own version prefix
    assignment.encode(w, 0);
    kp::sync_group_response resp;
    resp.assignment = std::move(w).data();
    if (v >= 5) {
        resp.protocol_type = req->protocol_type;
        resp.protocol_name = req->protocol_name;
    }
    return encoded(resp, v);
}

std::optional<bytes> offset_commit(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::offset_commit_request>(f);
    if (!req) return std::nullopt;
    kp::offset_commit_response resp;
    for (const auto& t : req->topics) {
        kp::offset_commit_response::offset_commit_response_topic tr;
        tr.name = t.name;
        for (const auto& p : t.partitions)
            tr.partitions.push_back({p.partition_index, 0, {}});
        resp.topics.push_back(std::move(tr));
    }
    return encoded(resp, v);
}

std::optional<bytes> offset_fetch(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::offset_fetch_request>(f);
    if (!req) return std::nullopt;
    kp::offset_fetch_response resp;
    for (const auto& t : req->topics.value_or(
             std::vector<kp::offset_fetch_request::offset_fetch_request_topic>{})) {
        kp::offset_fetch_response::offset_fetch_response_topic tr;
        tr.name = t.name;
        for (int32_t p : t.partition_indexes) {
            kp::offset_fetch_response::offset_fetch_response_partition pr;
            pr.partition_index = p;
            pr.committed_offset = -1;
            tr.partitions.push_back(pr);
        }
        resp.topics.push_back(std::move(tr));
    }
    return encoded(resp, v);
}

std::optional<bytes> create_topics(const kp::request_frame& f, int16_t v) {
    auto req = body_of<kp::create_topics_request>(f);
    if (!req) return std::nullopt;
    kp::create_topics_response resp;
    for (const auto& t : req->topics) {
        kp::create_topics_response::creatable_topic_result r;
        r.name = t.name;
        if (v >= 5) {
            r.num_partitions = t.num_partitions;
            r.replication_factor = t.replication_factor;
            r.configs.emplace();
        }
        resp.topics.push_back(std::move(r));
    }
    return encoded(resp, v);
}

std::optional<bytes> init_producer_id(int16_t v) {
    kp::init_producer_id_response resp;
    resp.producer_id = 1000;
    return encoded(resp, v);
}

std::optional<bytes> respond(const kp::request_frame& f) {
    int16_t v = f.header.request_api_version;
    switch (f.header.request_api_key) {
        case kp::produce_request::kafka_api_key:
            return produce(f, v);
        case kp::fetch_request::kafka_api_key:
            return fetch(f, v);
        case kp::list_offsets_request::kafka_api_key:
            return list_offsets(f, v);
        case kp::metadata_request::kafka_api_key:
            return metadata(f, v);
        case kp::offset_commit_request::kafka_api_key:
            return offset_commit(f, v);
        case kp::offset_fetch_request::kafka_api_key:
            return offset_fetch(f, v);
        case kp::find_coordinator_request::kafka_api_key:
            return find_coordinator(f, v);
        case kp::join_group_request::kafka_api_key:
            return join_group(f, v);
        case kp::heartbeat_request::kafka_api_key:
            return encoded(kp::heartbeat_response{}, v);
        case kp::leave_group_request::kafka_api_key:
            return encoded(kp::leave_group_response{}, v);
        case kp::sync_group_request::kafka_api_key:
            return sync_group(f, v);
        case kp::api_versions_request::kafka_api_key:
            return api_versions(v);
        case kp::create_topics_request::kafka_api_key:
            return create_topics(f, v);
        case kp::init_producer_id_request::kafka_api_key:
            return init_producer_id(v);
        default:
            return std::nullopt;
    }
}

bool read_exact(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t got = ::read(fd, p, n);
        if (got <= 0) return false;
        p += got;
        n -= static_cast<size_t>(got);
    }
    return true;
}

bool write_all(int fd, const bytes& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t put = ::write(fd, data.data() + done, data.size() - done);
        if (put <= 0) return false;
        done += static_cast<size_t>(put);
    }
    return true;
}

void serve(int fd) {
    for (;;) {
        uint8_t size_bytes[4];
        if (!read_exact(fd, size_bytes, 4)) break;
        uint32_t size = (uint32_t{size_bytes[0]} << 24) | (uint32_t{size_bytes[1]} << 16) |
                        (uint32_t{size_bytes[2]} << 8) | size_bytes[3];
        if (size > (64u << 20)) break;
        bytes frame(size);
        if (!read_exact(fd, frame.data(), size)) break;
        auto parsed = kp::parse_request(frame);
        if (!parsed || !parsed->api) break;
        record(*parsed, frame);
        auto body = respond(*parsed);
        if (!body) {
            fmt::print(stderr, "no answer for {} v{}; closing\n", parsed->api->name,
                       parsed->header.request_api_version);
            break;
        }
        int16_t hv = kp::response_header_version(*parsed->api, parsed->header.request_api_version);
        if (!write_all(fd, kp::frame_response(parsed->header.correlation_id, hv, *body))) break;
    }
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        fmt::print(stderr, "usage: {} <port> <output-dir>\n", argv[0]);
        return 2;
    }
    port = std::stoi(argv[1]);
    out_dir = argv[2];
    std::filesystem::create_directories(out_dir);
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host, &addr.sin_addr);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 64) != 0) {
        std::perror("listen");
        return 1;
    }
    fmt::print("listening on {}:{}\n", host, port);
    std::fflush(stdout);
    for (;;) {
        int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) continue;
        std::thread(serve, fd).detach();
    }
}
