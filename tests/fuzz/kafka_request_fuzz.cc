// libFuzzer target for request decoding: any bytes as one request frame (size prefix
// stripped). The frame's own API key and version pick the codec, so the fuzzer walks every
// message at every version. An odd correlation id decodes the body as that API's response
// instead, so response codecs (which the broker's internal clients read) are fuzzed too.
//
// Oracle: decoding never crashes (ASan, UBSan); whatever decodes re-encodes, and the
// re-encoding is a fixed point (decode + encode of it gives it back byte for byte).
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/assert.h"
#include "kafka/protocol/any_message.h"
#include "kafka/protocol/frame.h"

using namespace trib::kafka::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto frame = parse_request(std::span<const uint8_t>(data, size));
    if (!frame || !frame->api) return 0;
    const auto& h = frame->header;
    auto kind = (h.correlation_id & 1) ? message_kind::response : message_kind::request;
    auto once = reencode(h.request_api_key, kind, h.request_api_version, frame->body);
    if (!once) return 0;
    auto twice = reencode(h.request_api_key, kind, h.request_api_version, *once);
    TRIB_ASSERT_MSG(twice.has_value(), "{} v{}: re-encoding does not decode: {}", frame->api->name,
                    h.request_api_version, twice.error().message());
    TRIB_ASSERT_MSG(*twice == *once, "{} v{}: re-encoding is not a fixed point", frame->api->name,
                    h.request_api_version);
    auto framed = frame_request(h, frame->header_version, {});
    auto header_again = parse_request(std::span<const uint8_t>(framed).subspan(4));
    TRIB_ASSERT(header_again && header_again->header == h);
    return 0;
}
