// Schema rules the generated codecs must follow, each on a real message.
#include <gtest/gtest.h>

#include "kafka/protocol/api_table.h"
#include "kafka/protocol/api_versions.h"
#include "kafka/protocol/fetch.h"
#include "kafka/protocol/join_group.h"
#include "kafka/protocol/metadata.h"
#include "kafka/protocol/produce.h"
#include "kafka/protocol/request_header.h"

namespace trib::kafka::protocol {
namespace {

TEST(rules, non_ignorable_value_a_version_lacks_is_an_error) {
    produce_request p;
    p.transactional_id = "txn";  // exists from v3, not ignorable
    EXPECT_EQ(encode(p, 2).error(), errc::field_not_in_version);
    EXPECT_TRUE(encode(p, 3));
    metadata_request m;
    m.allow_auto_topic_creation = false;  // default true; a v3 request cannot say "false"
    EXPECT_EQ(encode(m, 3).error(), errc::field_not_in_version);
    m.allow_auto_topic_creation = true;
    EXPECT_TRUE(encode(m, 3));
}

TEST(rules, ignorable_value_is_dropped_for_older_versions) {
    api_versions_request a;
    a.client_software_name = "librdkafka";
    a.client_software_version = "2.0.2";
    auto v2 = encode(a, 2);
    ASSERT_TRUE(v2);
    EXPECT_TRUE(v2->empty());  // v0-2 bodies are empty
    auto v3 = encode(a, 3);
    ASSERT_TRUE(v3);
    EXPECT_EQ(*decode<api_versions_request>(*v3, 3), a);
}

TEST(rules, null_only_where_the_version_allows_it) {
    metadata_request m;
    m.topics.reset();  // null means "all topics" from v1; v0 has no null
    EXPECT_EQ(encode(m, 0).error(), errc::null_not_allowed);
    auto v1 = encode(m, 1);
    ASSERT_TRUE(v1);
    EXPECT_EQ(*v1, (bytes{0xff, 0xff, 0xff, 0xff}));
    EXPECT_EQ(decode<metadata_request>(*v1, 1)->topics, std::nullopt);
    EXPECT_EQ(decode<metadata_request>(*v1, 0).error(), errc::negative_length);
}

TEST(rules, defaults_come_from_the_schema) {
    join_group_request j;
    EXPECT_EQ(j.group_instance_id, std::nullopt);  // "default": "null"
    EXPECT_EQ(j.rebalance_timeout_ms, -1);         // "default": "-1"
    metadata_request m;
    EXPECT_TRUE(m.allow_auto_topic_creation);  // "default": "true"
}

TEST(rules, tagged_field_written_only_when_not_default) {
    fetch_request f;
    auto plain = encode(f, 12);
    ASSERT_TRUE(plain);
    f.cluster_id = "c1";
    auto tagged = encode(f, 12);
    ASSERT_TRUE(tagged);
    // Only the top-level tagged section differs: 1 field, tag 0, size 3, compact "c1".
    ASSERT_EQ(tagged->size(), plain->size() + 5);
    EXPECT_EQ(decode<fetch_request>(*tagged, 12)->cluster_id, "c1");
    EXPECT_TRUE(encode(f, 11));  // ignorable: dropped before v12
}

TEST(rules, unknown_tagged_fields_are_kept_and_re_emitted) {
    // ApiVersions v3: name "a", version "b", then a tagged section with unknown tag 7.
    bytes body{2, 'a', 2, 'b', 1, 7, 2, 0xde, 0xad};
    auto a = decode<api_versions_request>(body, 3);
    ASSERT_TRUE(a);
    ASSERT_EQ(a->unknown_tagged_fields.size(), 1u);
    EXPECT_EQ(a->unknown_tagged_fields[0].tag, 7u);
    EXPECT_EQ(a->unknown_tagged_fields[0].data, (bytes{0xde, 0xad}));
    EXPECT_EQ(*encode(*a, 3), body);
}

TEST(rules, malformed_tagged_sections_are_rejected) {
    bytes out_of_order{2, 'a', 2, 'b', 2, 7, 0, 3, 0};
    EXPECT_EQ(decode<api_versions_request>(out_of_order, 3).error(), errc::tag_order);
    bytes duplicate{2, 'a', 2, 'b', 2, 7, 0, 7, 0};
    EXPECT_EQ(decode<api_versions_request>(duplicate, 3).error(), errc::tag_order);
    bytes oversized{2, 'a', 2, 'b', 1, 7, 9, 0};
    EXPECT_EQ(decode<api_versions_request>(oversized, 3).error(), errc::length_too_large);
    // FetchRequest v12's tag 0 (ClusterId) declares 3 bytes but its string takes 2.
    fetch_request f;
    auto base = *encode(f, 12);
    base.back() = 1;  // one tagged field instead of none
    for (uint8_t b : bytes{0, 3, 2, 'x', 0})
        base.push_back(b);
    EXPECT_EQ(decode<fetch_request>(base, 12).error(), errc::tag_size_mismatch);
}

TEST(rules, versions_outside_the_schema_are_rejected) {
    EXPECT_EQ(encode(api_versions_request{}, 5).error(), errc::unsupported_version);
    EXPECT_EQ(decode<api_versions_request>(bytes{}, -1).error(), errc::unsupported_version);
}

TEST(rules, request_header_keeps_a_classic_client_id_in_v2) {
    request_header h;
    h.request_api_key = 18;
    h.request_api_version = 3;
    h.correlation_id = 1;
    h.client_id = "rdkafka";
    auto v2 = encode(h, 2);
    ASSERT_TRUE(v2);
    EXPECT_EQ(*v2, (bytes{0, 18, 0, 3, 0, 0, 0, 1, 0, 7, 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0}));
}

TEST(api_table, lists_every_key_with_schema_versions) {
    EXPECT_EQ(all_apis().size(), 88u);
    const auto* produce = find_api(0);
    ASSERT_NE(produce, nullptr);
    EXPECT_EQ(produce->name, "Produce");
    EXPECT_EQ(produce->versions.min, 0);
    EXPECT_EQ(produce->versions.max, 11);
    EXPECT_EQ(find_api(-1), nullptr);
    EXPECT_EQ(find_api(1000), nullptr);
}

TEST(api_table, header_versions_follow_flexibility) {
    const auto& produce = *find_api(0);
    EXPECT_EQ(request_header_version(produce, 8), 1);
    EXPECT_EQ(request_header_version(produce, 9), 2);
    EXPECT_EQ(response_header_version(produce, 8), 0);
    EXPECT_EQ(response_header_version(produce, 9), 1);
    const auto& api_versions = *find_api(18);
    EXPECT_EQ(request_header_version(api_versions, 3), 2);
    EXPECT_EQ(response_header_version(api_versions, 3), 0);  // KIP-511
    EXPECT_EQ(request_header_version(*find_api(7), 0), 0);   // ControlledShutdown v0
}

}  // namespace
}  // namespace trib::kafka::protocol
