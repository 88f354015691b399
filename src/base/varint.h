// Unsigned LEB128 varints (7 bits per byte, least significant group first) and the zigzag
// mapping of signed values onto them. Used by the Kafka protocol (compact lengths, tags) and
// by the record format (signed zigzag varints), so both decode the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace trib::varint {

enum class decode_status { ok, truncated, overflow };

struct decoded {
    uint64_t value = 0;
    size_t size = 0;  // bytes consumed when ok
    decode_status status = decode_status::truncated;
};

// Decodes a varint holding at most `bits` (32 or 64) bits: at most 5 or 10 bytes, and the last
// byte may not carry bits beyond the type. Never reads past `in`.
inline decoded decode_unsigned(std::span<const uint8_t> in, int bits) {
    decoded out;
    const int max_bytes = (bits + 6) / 7;
    for (int i = 0; i < max_bytes; ++i) {
        if (static_cast<size_t>(i) >= in.size()) return out;  // truncated
        uint64_t b = in[static_cast<size_t>(i)];
        int shift = 7 * i;
        if (i == max_bytes - 1 && (b >> (bits - shift)) != 0) break;  // bits past the type
        out.value |= (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            out.size = static_cast<size_t>(i) + 1;
            out.status = decode_status::ok;
            return out;
        }
    }
    out.status = decode_status::overflow;
    out.value = 0;
    return out;
}

constexpr int32_t zigzag_decode(uint32_t z) {
    return static_cast<int32_t>((z >> 1) ^ (~(z & 1) + 1));
}
constexpr int64_t zigzag_decode(uint64_t z) {
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
}
constexpr uint32_t zigzag_encode(int32_t v) {
    return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr uint64_t zigzag_encode(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// Appends the varint of `v` through `put(uint8_t)`.
template <typename Put>
void encode_unsigned(uint64_t v, Put&& put) {
    while (v >= 0x80) {
        put(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    put(static_cast<uint8_t>(v));
}

constexpr size_t encoded_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

}  // namespace trib::varint
