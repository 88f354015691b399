// Round-trip checks over generated sample values (tools/kafka_codegen/gen.py writes the fill
// functions): every field that exists in a version gets a non-default value.
#pragma once

#include <span>
#include <string>

#include <fmt/format.h>

#include "kafka/protocol/wire.h"

namespace trib::kafka::protocol::samples {

struct sample_case {
    const char* name;
    version_range versions;
    std::string (*check)(int16_t version);  // empty on success, else what went wrong
};

std::span<const sample_case> all_cases();

// Encodes a filled message, decodes it back, and checks: equal value, identical bytes on
// re-encoding, and a clean error (never a crash) for every truncation and for a trailing byte.
template <typename Message, typename Fill>
std::string roundtrip_check(int16_t version, Fill fill) {
    Message m;
    fill(m, version);
    if (Message::flexible_versions.contains(version)) {
        m.unknown_tagged_fields.push_back({100000, bytes{0xab, 0xcd}});  // kept and re-emitted
    }
    auto encoded = encode(m, version);
    if (!encoded) return "encode failed: " + encoded.error().message();
    auto decoded = decode<Message>(*encoded, version);
    if (!decoded) return "decode failed: " + decoded.error().message();
    if (!(*decoded == m)) return "decoded value differs from the encoded one";
    auto again = encode(*decoded, version);
    if (!again || *again != *encoded) return "re-encoding gave different bytes";
    for (size_t n = 0; n < encoded->size(); ++n) {
        auto prefix = decode<Message>(std::span<const uint8_t>(encoded->data(), n), version);
        if (prefix)
            return fmt::format("a truncation to {} of {} bytes decoded", n, encoded->size());
    }
    auto longer = *encoded;
    longer.push_back(0);
    auto trailing = decode<Message>(longer, version);
    if (trailing || trailing.error() != errc::trailing_bytes) return "a trailing byte was accepted";
    return {};
}

}  // namespace trib::kafka::protocol::samples
