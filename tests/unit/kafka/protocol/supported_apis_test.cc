// ApiVersions is answered from the supported list only, sorted, and a version we do not
// support gets UNSUPPORTED_VERSION at v0 with our ranges (what librdkafka and KafkaJS retry on).
#include "kafka/protocol/supported_apis.h"

#include <gtest/gtest.h>

#include "kafka/protocol/metadata.h"
#include "kafka/protocol/produce.h"

namespace trib::kafka::protocol {
namespace {

constexpr supported_api handled[] = {
    supports<metadata_request>(0, 12),
    supports<api_versions_request>(0, 4),
    supports<produce_request>(3, 9),
};

TEST(supported_apis, lists_exactly_the_handled_apis_in_key_order) {
    auto reply = answer_api_versions(handled, 3);
    EXPECT_EQ(reply.version, 3);
    EXPECT_EQ(reply.response.error_code, 0);
    ASSERT_EQ(reply.response.api_keys.size(), 3u);
    EXPECT_EQ(reply.response.api_keys[0].api_key, 0);
    EXPECT_EQ(reply.response.api_keys[0].min_version, 3);
    EXPECT_EQ(reply.response.api_keys[0].max_version, 9);
    EXPECT_EQ(reply.response.api_keys[1].api_key, 3);
    EXPECT_EQ(reply.response.api_keys[2].api_key, 18);
}

TEST(supported_apis, unsupported_version_answers_at_v0_with_the_ranges) {
    for (int16_t asked : {int16_t{5}, int16_t{-1}, int16_t{127}}) {
        auto reply = answer_api_versions(handled, asked);
        EXPECT_EQ(reply.version, 0);
        EXPECT_EQ(reply.response.error_code, 35);
        EXPECT_EQ(reply.response.api_keys.size(), 3u);
        EXPECT_TRUE(encode(reply.response, reply.version).has_value());
    }
}

TEST(supported_apis, a_second_handler_for_one_key_is_a_programming_error) {
    const supported_api twice[] = {supports<api_versions_request>(0, 4),
                                   supports<api_versions_request>(0, 3)};
    EXPECT_DEATH(answer_api_versions(twice, 0), "two handlers");
}

// A range outside the schema does not compile: tests/compile_fail/supports_outside_schema.cc.

}  // namespace
}  // namespace trib::kafka::protocol
