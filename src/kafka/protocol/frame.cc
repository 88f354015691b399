#include "kafka/protocol/frame.h"

#include "base/big_endian.h"
#include "kafka/protocol/response_header.h"

namespace trib::kafka::protocol {

namespace {
// The API key and version lead every header version, so they pick the header version.
constexpr size_t key_and_version_bytes = 4;

bytes with_size_prefix(writer& w, std::span<const uint8_t> body) {
    w.append(body);
    bytes out = std::move(w).data();
    auto size = static_cast<uint32_t>(out.size() - 4);
    for (int i = 0; i < 4; ++i)
        out[static_cast<size_t>(i)] = static_cast<uint8_t>(size >> (24 - 8 * i));
    return out;
}
}  // namespace

constexpr int16_t api_versions_key = 18;

result<request_frame> parse_request(std::span<const uint8_t> frame) {
    if (frame.size() < key_and_version_bytes) return errc::truncated;
    reader peek(frame);
    int16_t key = peek.read_int16();
    int16_t version = peek.read_int16();
    request_frame out;
    out.api = find_api(key);
    out.header_version = out.api ? request_header_version(*out.api, version) : int16_t{1};
    reader r(frame);
    out.header.decode(r, out.header_version);
    // An ApiVersions request at a version we do not know may come from a client that did not
    // send the flexible header; it still deserves an answer (KIP-511), so read it as v1.
    bool unknown_api_versions =
        key == api_versions_key && out.api && !out.api->versions.contains(version);
    if (!r.ok() && unknown_api_versions) {
        out.header_version = 1;
        out.header = {};
        r = reader(frame);
        out.header.decode(r, out.header_version);
    }
    if (!r.ok()) return unexpected(r.error());
    out.body = frame.subspan(frame.size() - r.remaining());
    return out;
}

bytes frame_request(const request_header& header, int16_t header_version,
                    std::span<const uint8_t> body) {
    writer w;
    w.write_int32(0);
    header.encode(w, header_version);
    return with_size_prefix(w, body);
}

bytes response_frame_head(int32_t correlation_id, int16_t header_version, size_t body_size) {
    writer w;
    w.write_int32(0);
    response_header h;
    h.correlation_id = correlation_id;
    h.encode(w, header_version);
    bytes out = std::move(w).data();
    auto size = static_cast<uint32_t>(out.size() - 4 + body_size);
    for (int i = 0; i < 4; ++i)
        out[static_cast<size_t>(i)] = static_cast<uint8_t>(size >> (24 - 8 * i));
    return out;
}

bytes frame_response(int32_t correlation_id, int16_t header_version,
                     std::span<const uint8_t> body) {
    bytes out = response_frame_head(correlation_id, header_version, body.size());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

}  // namespace trib::kafka::protocol
