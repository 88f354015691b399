// Request frames captured from real clients (tests/golden/capture.py: kcat and confluent-kafka
// on librdkafka 2.0.2, kafka-python 2.0.2, KafkaJS 2.2.4). Each decodes to the values the
// client was asked to send and re-encodes to the very same bytes.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "kafka/protocol/any_message.h"
#include "kafka/protocol/api_versions.h"
#include "kafka/protocol/create_topics.h"
#include "kafka/protocol/fetch.h"
#include "kafka/protocol/find_coordinator.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/join_group.h"
#include "kafka/protocol/metadata.h"
#include "kafka/protocol/offset_commit.h"
#include "kafka/protocol/produce.h"
#include "unit/hex_file.h"

namespace trib::kafka::protocol {
namespace {

const std::filesystem::path golden_dir = TRIB_GOLDEN_DIR;
const char* const clients[] = {"golden-kcat", "golden-confluent", "golden-kafka-python",
                               "golden-kafkajs"};

bytes read_hex(const std::filesystem::path& path) {
    return test::read_hex_file(path);
}

// Every captured frame of `client` for `api`, whatever versions were captured.
std::vector<bytes> frames(const std::string& client, const std::string& api) {
    std::vector<bytes> out;
    for (const auto& entry : std::filesystem::directory_iterator(golden_dir)) {
        auto name = entry.path().filename().string();
        if (name.starts_with(client + "-" + api + "-v")) out.push_back(read_hex(entry.path()));
    }
    return out;
}

template <typename Request>
Request decoded(const bytes& frame) {
    auto f = parse_request(frame);
    EXPECT_TRUE(f.has_value());
    if (!f) return {};
    EXPECT_EQ(f->header.request_api_key, Request::kafka_api_key);
    auto m = decode<Request>(f->body, f->header.request_api_version);
    EXPECT_TRUE(m.has_value()) << m.error().message();
    return m ? *m : Request{};
}

bool contains(const bytes& haystack, std::string_view needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
           haystack.end();
}

TEST(golden, every_frame_reencodes_to_the_same_bytes) {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(golden_dir)) {
        SCOPED_TRACE(entry.path().filename().string());
        bytes frame = read_hex(entry.path());
        auto f = parse_request(frame);
        ASSERT_TRUE(f.has_value()) << f.error().message();
        ASSERT_NE(f->api, nullptr);
        EXPECT_TRUE(entry.path().filename().string().find(
                        fmt::format("-{}-v{}.", f->api->name, f->header.request_api_version)) !=
                    std::string::npos);
        auto body = reencode(f->header.request_api_key, message_kind::request,
                             f->header.request_api_version, f->body);
        ASSERT_TRUE(body.has_value()) << body.error().message();
        bytes again = frame_request(f->header, f->header_version, *body);
        EXPECT_EQ(bytes(again.begin() + 4, again.end()), frame);
        ++n;
    }
    EXPECT_GE(n, 40u);
}

TEST(golden, every_client_sent_the_eight_core_apis) {
    // kcat and confluent-kafka share librdkafka: kcat produces, confluent-kafka joins groups.
    for (const char* api : {"ApiVersions", "Metadata", "Fetch"}) {
        for (const char* client : clients)
            EXPECT_FALSE(frames(client, api).empty()) << client << api;
    }
    for (const char* api : {"Produce"}) {
        for (const char* client : {"golden-kcat", "golden-kafka-python", "golden-kafkajs"})
            EXPECT_FALSE(frames(client, api).empty()) << client << api;
    }
    for (const char* api : {"FindCoordinator", "JoinGroup", "OffsetCommit", "CreateTopics"}) {
        for (const char* client : {"golden-confluent", "golden-kafka-python", "golden-kafkajs"})
            EXPECT_FALSE(frames(client, api).empty()) << client << api;
    }
}

TEST(golden, api_versions_names_the_client_software) {
    for (const char* client : {"golden-kcat", "golden-confluent"}) {
        for (const auto& frame : frames(client, "ApiVersions")) {
            auto m = decoded<api_versions_request>(frame);
            EXPECT_EQ(m.client_software_name, client == std::string("golden-kcat")
                                                  ? "librdkafka"
                                                  : "confluent-kafka-python");
            EXPECT_FALSE(m.client_software_version.empty());
        }
    }
    for (const char* client : {"golden-kafka-python", "golden-kafkajs"}) {
        for (const auto& frame : frames(client, "ApiVersions")) {
            EXPECT_EQ(decoded<api_versions_request>(frame), api_versions_request{});
        }
    }
}

TEST(golden, metadata_asks_for_the_topic_or_for_all) {
    for (const char* client : clients) {
        for (const auto& frame : frames(client, "Metadata")) {
            auto m = decoded<metadata_request>(frame);
            if (!m.topics || m.topics->empty()) continue;  // all topics (kcat -L, probes)
            auto names = *m.topics;
            EXPECT_TRUE(std::any_of(names.begin(), names.end(), [](const auto& t) {
                return t.name == "golden";
            })) << client;
        }
    }
}

TEST(golden, produce_carries_one_v2_batch_with_the_record) {
    const std::pair<const char*, int16_t> expected_acks[] = {
        {"golden-kcat", -1}, {"golden-kafka-python", 1}, {"golden-kafkajs", -1}};
    for (auto [client, acks] : expected_acks) {
        for (const auto& frame : frames(client, "Produce")) {
            auto m = decoded<produce_request>(frame);
            EXPECT_EQ(m.acks, acks) << client;
            ASSERT_EQ(m.topic_data.size(), 1u);
            EXPECT_EQ(m.topic_data[0].name, "golden");
            ASSERT_EQ(m.topic_data[0].partition_data.size(), 1u);
            const auto& p = m.topic_data[0].partition_data[0];
            EXPECT_EQ(p.index, 0);
            ASSERT_TRUE(p.records.has_value());
            ASSERT_GT(p.records->size(), 61u);  // a v2 batch header is 61 bytes
            EXPECT_EQ((*p.records)[16], 2) << client << ": magic";
            EXPECT_TRUE(contains(*p.records, "key-1")) << client;
            EXPECT_TRUE(contains(*p.records, "value-1")) << client;
            EXPECT_TRUE(contains(*p.records, "trace")) << client << ": header key";
        }
    }
}

TEST(golden, fetch_reads_partition_zero_from_offset_zero) {
    for (const char* client : clients) {
        for (const auto& frame : frames(client, "Fetch")) {
            auto m = decoded<fetch_request>(frame);
            EXPECT_EQ(m.replica_id, -1) << client;
            EXPECT_GT(m.max_wait_ms, 0) << client;
            ASSERT_EQ(m.topics.size(), 1u);
            EXPECT_EQ(m.topics[0].topic, "golden");
            ASSERT_EQ(m.topics[0].partitions.size(), 1u);
            EXPECT_EQ(m.topics[0].partitions[0].partition, 0);
            EXPECT_EQ(m.topics[0].partitions[0].fetch_offset, 0);
            EXPECT_GT(m.topics[0].partitions[0].partition_max_bytes, 0);
            // librdkafka and KafkaJS read committed data by default; kafka-python cannot.
            EXPECT_EQ(m.isolation_level, client == std::string("golden-kafka-python") ? 0 : 1);
        }
    }
}

TEST(golden, group_requests_name_the_group) {
    for (const char* client : {"golden-confluent", "golden-kafka-python", "golden-kafkajs"}) {
        for (const auto& frame : frames(client, "FindCoordinator")) {
            auto m = decoded<find_coordinator_request>(frame);
            EXPECT_EQ(m.key, "golden-group") << client;
            EXPECT_EQ(m.key_type, 0);
        }
        for (const auto& frame : frames(client, "JoinGroup")) {
            auto m = decoded<join_group_request>(frame);
            EXPECT_EQ(m.group_id, "golden-group") << client;
            EXPECT_EQ(m.protocol_type, "consumer");
            EXPECT_GT(m.session_timeout_ms, 0);
            ASSERT_FALSE(m.protocols.empty());
            EXPECT_TRUE(contains(m.protocols[0].metadata, "golden")) << "subscribed topic";
        }
        for (const auto& frame : frames(client, "OffsetCommit")) {
            auto m = decoded<offset_commit_request>(frame);
            EXPECT_EQ(m.group_id, "golden-group") << client;
            ASSERT_EQ(m.topics.size(), 1u);
            EXPECT_EQ(m.topics[0].name, "golden");
            ASSERT_EQ(m.topics[0].partitions.size(), 1u);
            EXPECT_EQ(m.topics[0].partitions[0].partition_index, 0);
            EXPECT_EQ(m.topics[0].partitions[0].committed_offset, 42);
        }
    }
}

TEST(golden, create_topics_asks_for_three_partitions) {
    for (const char* client : {"golden-confluent", "golden-kafka-python", "golden-kafkajs"}) {
        for (const auto& frame : frames(client, "CreateTopics")) {
            auto m = decoded<create_topics_request>(frame);
            ASSERT_EQ(m.topics.size(), 1u) << client;
            EXPECT_EQ(m.topics[0].name, "golden-created");
            EXPECT_EQ(m.topics[0].num_partitions, 3);
            EXPECT_TRUE(m.topics[0].assignments.empty());
            EXPECT_GT(m.timeout_ms, 0);
        }
    }
}

TEST(golden, every_truncation_of_a_captured_body_is_an_error) {
    for (const auto& entry : std::filesystem::directory_iterator(golden_dir)) {
        SCOPED_TRACE(entry.path().filename().string());
        bytes frame = read_hex(entry.path());
        auto f = parse_request(frame);
        ASSERT_TRUE(f.has_value());
        for (size_t n = 0; n < f->body.size(); ++n) {
            auto r = reencode(f->header.request_api_key, message_kind::request,
                              f->header.request_api_version, f->body.first(n));
            EXPECT_FALSE(r.has_value()) << "prefix of " << n << " bytes";
        }
        size_t header_size = frame.size() - f->body.size();
        for (size_t n = 0; n < header_size; ++n) {
            EXPECT_FALSE(parse_request(std::span<const uint8_t>(frame).first(n)).has_value())
                << "header prefix of " << n << " bytes";
        }
    }
}

}  // namespace
}  // namespace trib::kafka::protocol
