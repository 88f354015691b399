// The controller's requests and answers on the wire: round trips, every truncation refused,
// unknown kinds and codes refused, garbage never crashes.
#include "cluster/controller_rpc.h"

#include <random>

#include <gtest/gtest.h>

namespace trib::cluster {
namespace {

controller_request sample_request() {
    controller_request r{.kind = request_kind::create_partitions,
                         .shutting_down = true,
                         .topic = "orders",
                         .partitions = 12,
                         .replication_factor = 3,
                         .assignment = {{1, 2, 3}, {3, 1, 2}},
                         .configs = {{"retention.ms", "1000"}},
                         .validate_only = true,
                         .count = 7,
                         .seen_offset = 1234};
    r.broker.id = 4;
    r.broker.kafka = {"kafka.example", 9092};
    r.broker.rpc = {"rpc.example", 9093};
    r.broker.rack = "r1";
    r.broker.incarnation = 0x1122334455667788ULL;
    r.broker.dir_id = 99;
    return r;
}

TEST(ControllerRpc, RequestsAndAnswersRoundTrip) {
    auto bytes = encode_rpc(42, sample_request());
    auto back = decode_rpc(bytes);
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(back->id, 42u);
    ASSERT_TRUE(back->request);
    EXPECT_EQ(encode_rpc(42, *back->request), bytes);
    EXPECT_EQ(back->request->broker.rack, "r1");
    EXPECT_EQ(back->request->assignment.size(), 2u);
    EXPECT_EQ(back->request->seen_offset, 1234);

    controller_response a{.code = errc::duplicate_broker,
                          .message = "held",
                          .offset = 17,
                          .first_producer_id = 3000,
                          .leader = 2};
    auto answer = decode_rpc(encode_rpc(7, a));
    ASSERT_TRUE(answer) << answer.error();
    ASSERT_TRUE(answer->response);
    EXPECT_EQ(answer->response->code, errc::duplicate_broker);
    EXPECT_EQ(answer->response->message, "held");
    EXPECT_EQ(answer->response->offset, 17);
    EXPECT_EQ(answer->response->first_producer_id, 3000);
    EXPECT_EQ(answer->response->leader, 2);
}

TEST(ControllerRpc, TruncationsAndUnknownValuesAreRefused) {
    auto bytes = encode_rpc(1, sample_request());
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(decode_rpc(std::span(bytes.data(), n))) << n;
    }
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_FALSE(decode_rpc(longer));
    auto bad_kind = bytes;
    bad_kind[9] = 99;  // after the tag and the id
    EXPECT_FALSE(decode_rpc(bad_kind));
    auto bad_tag = bytes;
    bad_tag[0] = 3;
    EXPECT_FALSE(decode_rpc(bad_tag));
    auto answer = encode_rpc(1, controller_response{});
    answer[9] = 0xff;  // the error code's high byte
    EXPECT_FALSE(decode_rpc(answer));
}

TEST(ControllerRpc, GarbageNeverCrashes) {
    std::mt19937 rng(3);
    for (int i = 0; i < 5000; ++i) {
        std::vector<uint8_t> junk(rng() % 120);
        for (auto& b : junk)
            b = static_cast<uint8_t>(rng());
        (void)decode_rpc(junk);
    }
}

}  // namespace
}  // namespace trib::cluster
