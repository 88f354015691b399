// Request framing: the header version follows the API and version, unknown keys still yield
// the header, and bodies of unknown keys cannot be decoded.
#include "kafka/protocol/frame.h"

#include <gtest/gtest.h>

#include "kafka/protocol/any_message.h"
#include "kafka/protocol/metadata.h"

namespace trib::kafka::protocol {
namespace {

bytes without_size(const bytes& framed) {
    return bytes(framed.begin() + 4, framed.end());
}

request_header header(int16_t key, int16_t version) {
    request_header h;
    h.request_api_key = key;
    h.request_api_version = version;
    h.correlation_id = 7;
    h.client_id = "c";
    return h;
}

TEST(frame, flexible_versions_use_header_v2_and_keep_the_body) {
    metadata_request m;
    m.topics.emplace().push_back({{}, "t", {}});
    auto body = encode(m, 12);
    ASSERT_TRUE(body.has_value());
    auto framed = frame_request(header(3, 12), 2, *body);
    auto size = (framed[0] << 24) | (framed[1] << 16) | (framed[2] << 8) | framed[3];
    EXPECT_EQ(static_cast<size_t>(size), framed.size() - 4);
    bytes frame = without_size(framed);
    auto f = parse_request(frame);  // the body points into `frame`
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->header_version, 2);
    EXPECT_EQ(f->header.correlation_id, 7);
    EXPECT_EQ(f->header.client_id, "c");
    EXPECT_EQ(bytes(f->body.begin(), f->body.end()), *body);
}

TEST(frame, classic_versions_use_header_v1) {
    bytes frame = without_size(frame_request(header(3, 4), 1, {}));
    auto f = parse_request(frame);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->header_version, 1);
    EXPECT_TRUE(f->body.empty());
}

TEST(frame, unknown_api_key_still_yields_the_header) {
    bytes frame = without_size(frame_request(header(999, 0), 1, bytes{1, 2}));
    auto f = parse_request(frame);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->api, nullptr);
    EXPECT_EQ(f->header.correlation_id, 7);
    auto r = reencode(999, message_kind::request, 0, f->body);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), errc::unknown_api_key);
}

TEST(frame, short_and_corrupt_headers_are_errors) {
    EXPECT_EQ(parse_request(bytes{0, 3}).error(), errc::truncated);
    // Metadata v4, correlation id, then a client id claiming 100 bytes with 1 present.
    bytes bad{0, 3, 0, 4, 0, 0, 0, 1, 0, 100, 'x'};
    EXPECT_FALSE(parse_request(bad).has_value());
    bytes negative{0, 3, 0, 4, 0, 0, 0, 1, 0xff, 0xfe};  // client id length -2
    EXPECT_EQ(parse_request(negative).error(), errc::negative_length);
}

TEST(frame, response_header_v1_has_an_empty_tag_section) {
    auto v0 = frame_response(9, 0, bytes{0xaa});
    auto v1 = frame_response(9, 1, bytes{0xaa});
    EXPECT_EQ(v0, (bytes{0, 0, 0, 5, 0, 0, 0, 9, 0xaa}));
    EXPECT_EQ(v1, (bytes{0, 0, 0, 6, 0, 0, 0, 9, 0, 0xaa}));
}

}  // namespace
}  // namespace trib::kafka::protocol
