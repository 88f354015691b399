#include "model/legacy_messages.h"

#include <algorithm>

#include <zlib.h>

#include "base/assert.h"
#include "base/big_endian.h"

namespace trib::model {

namespace {

// offset (8) and message size (4) before each message; then crc (4), magic, attributes.
constexpr size_t log_overhead = 12;
constexpr size_t min_body_v0 = 4 + 1 + 1 + 4 + 4;  // crc, magic, attributes, key and value sizes
constexpr uint8_t codec_mask = 0x07;
constexpr uint8_t log_append_time_bit = 0x08;

uint32_t crc32_ieee(std::span<const uint8_t> data) {
    return static_cast<uint32_t>(
        ::crc32(0, data.data(), static_cast<uInt>(data.size())));  // zlib: the IEEE CRC-32
}

// XXH32 of fewer than 16 bytes (all an LZ4 frame descriptor needs), seed 0.
uint32_t xxh32_short(std::span<const uint8_t> data) {
    TRIB_ASSERT(data.size() < 16);
    constexpr uint32_t p1 = 2654435761U, p2 = 2246822519U, p3 = 3266489917U, p4 = 668265263U,
                       p5 = 374761393U;
    auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
    uint32_t h = p5 + static_cast<uint32_t>(data.size());
    size_t i = 0;
    for (; i + 4 <= data.size(); i += 4) {
        uint32_t word = uint32_t{data[i]} | uint32_t{data[i + 1]} << 8 |
                        uint32_t{data[i + 2]} << 16 | uint32_t{data[i + 3]} << 24;
        h = rotl(h + word * p3, 17) * p4;
    }
    for (; i < data.size(); ++i)
        h = rotl(h + data[i] * p5, 11) * p1;
    h ^= h >> 15;
    h *= p2;
    h ^= h >> 13;
    h *= p3;
    h ^= h >> 16;
    return h;
}

// Kafka 0.8-0.9 clients computed an LZ4 frame's header checksum over the magic number too
// (KAFKA-3160); magic 0 messages carry it so. `correct` says which one to write.
bool set_lz4_header_checksum(std::vector<uint8_t>& frame, bool correct) {
    if (frame.size() < 7) return false;
    size_t descriptor = 2 + ((frame[4] & 0x08) != 0 ? 8 : 0) + ((frame[4] & 0x01) != 0 ? 4 : 0);
    if (frame.size() < 4 + descriptor + 1) return false;
    auto hashed = correct ? std::span<const uint8_t>(frame).subspan(4, descriptor)
                          : std::span<const uint8_t>(frame).subspan(0, 4 + descriptor);
    frame[4 + descriptor] = static_cast<uint8_t>((xxh32_short(hashed) >> 8) & 0xff);
    return true;
}

struct cursor {
    std::span<const uint8_t> data;
    size_t pos = 0;
    bool take_bytes(std::optional<std::span<const uint8_t>>& out) {
        if (data.size() - pos < 4) return false;
        auto n = static_cast<int32_t>(big_endian::load(data.data() + pos, 4));
        pos += 4;
        if (n < 0) {
            out.reset();
            return n == -1;
        }
        if (data.size() - pos < static_cast<size_t>(n)) return false;
        out = data.subspan(pos, static_cast<size_t>(n));
        pos += static_cast<size_t>(n);
        return true;
    }
};

status read_set(std::span<const uint8_t> data, bool inner, std::optional<int64_t> wrapper_time,
                size_t max_decompressed, legacy_message_set& out) {
    size_t pos = 0;
    while (pos < data.size()) {
        if (data.size() - pos < log_overhead) return errc::truncated;
        auto size = static_cast<int32_t>(big_endian::load(data.data() + pos + 8, 4));
        if (size < static_cast<int32_t>(min_body_v0)) return errc::bad_length;
        if (data.size() - pos - log_overhead < static_cast<size_t>(size)) return errc::truncated;
        auto msg = data.subspan(pos + log_overhead, static_cast<size_t>(size));
        pos += log_overhead + static_cast<size_t>(size);
        if (static_cast<uint32_t>(big_endian::load(msg.data(), 4)) != crc32_ieee(msg.subspan(4))) {
            return errc::bad_crc;
        }
        int8_t magic = static_cast<int8_t>(msg[4]);
        if (magic != 0 && magic != 1) return errc::bad_magic;
        uint8_t attributes = msg[5];
        cursor c{msg, 6};
        int64_t timestamp = -1;
        if (magic == 1) {
            if (msg.size() < min_body_v0 + 8) return errc::bad_length;
            timestamp = static_cast<int64_t>(big_endian::load(msg.data() + 6, 8));
            c.pos += 8;
        }
        std::optional<std::span<const uint8_t>> key;
        std::optional<std::span<const uint8_t>> value;
        if (!c.take_bytes(key) || !c.take_bytes(value) || c.pos != msg.size()) {
            return errc::bad_record;
        }
        auto codec = static_cast<compression>(attributes & codec_mask);
        if (codec == compression::none) {
            record r;
            r.timestamp = wrapper_time.value_or(timestamp);
            if (key) r.key.emplace(key->begin(), key->end());
            if (value) r.value.emplace(value->begin(), value->end());
            r.offset_delta = static_cast<int32_t>(out.records.size());
            out.records.push_back(std::move(r));
            continue;
        }
        // A wrapper: its value is a message set, compressed. zstd came with magic 2.
        if (inner || !value || codec == compression::zstd ||
            static_cast<uint8_t>(codec) > static_cast<uint8_t>(compression::zstd)) {
            return codec == compression::zstd ? errc::unsupported_compression : errc::bad_record;
        }
        std::vector<uint8_t> payload(value->begin(), value->end());
        if (codec == compression::lz4 && magic == 0 && !set_lz4_header_checksum(payload, true)) {
            return errc::decompression_failed;
        }
        auto inflated = decompress(codec, payload, max_decompressed);
        if (!inflated) return unexpected(inflated.error());
        out.codec = codec;
        std::optional<int64_t> stamp;
        if (magic == 1 && (attributes & log_append_time_bit) != 0) {
            out.log_append_time = true;
            stamp = timestamp;
        }
        TRIB_TRY(read_set(*inflated, true, stamp, max_decompressed, out));
    }
    return {};
}

void put(std::vector<uint8_t>& out, uint64_t v, int n) {
    size_t at = out.size();
    out.resize(at + static_cast<size_t>(n));
    big_endian::store(out.data() + at, v, n);
}

void put_bytes(std::vector<uint8_t>& out, const std::optional<std::vector<uint8_t>>& b) {
    put(out, b ? b->size() : static_cast<uint64_t>(static_cast<uint32_t>(-1)), 4);
    if (b) out.insert(out.end(), b->begin(), b->end());
}

void put_message(std::vector<uint8_t>& out, int64_t offset, int8_t magic, uint8_t attributes,
                 int64_t timestamp, const std::optional<std::vector<uint8_t>>& key,
                 const std::optional<std::vector<uint8_t>>& value) {
    std::vector<uint8_t> body{static_cast<uint8_t>(magic), attributes};
    if (magic == 1) put(body, static_cast<uint64_t>(timestamp), 8);
    put_bytes(body, key);
    put_bytes(body, value);
    put(out, static_cast<uint64_t>(offset), 8);
    put(out, body.size() + 4, 4);
    put(out, crc32_ieee(body), 4);
    out.insert(out.end(), body.begin(), body.end());
}

}  // namespace

bool is_legacy_message_set(std::span<const uint8_t> data) {
    return data.size() > log_overhead + 4 && (data[16] == 0 || data[16] == 1);
}

result<legacy_message_set> read_legacy_messages(std::span<const uint8_t> data,
                                                size_t max_decompressed) {
    legacy_message_set out;
    TRIB_TRY(read_set(data, false, std::nullopt, max_decompressed, out));
    if (out.records.empty()) return errc::bad_record_count;
    return out;
}

std::vector<uint8_t> write_legacy_messages(int8_t magic, compression codec,
                                           std::span<const record> records) {
    std::vector<uint8_t> inner;
    int64_t max_timestamp = -1;
    for (size_t i = 0; i < records.size(); ++i) {
        put_message(inner, static_cast<int64_t>(i), magic, 0, records[i].timestamp, records[i].key,
                    records[i].value);
        max_timestamp = std::max(max_timestamp, records[i].timestamp);
    }
    if (codec == compression::none) return inner;
    auto compressed = compress(codec, inner);
    TRIB_ASSERT(compressed.has_value());
    if (codec == compression::lz4 && magic == 0) set_lz4_header_checksum(*compressed, false);
    std::vector<uint8_t> out;
    put_message(out, static_cast<int64_t>(records.size()) - 1, magic, static_cast<uint8_t>(codec),
                max_timestamp, std::nullopt, *compressed);
    return out;
}

}  // namespace trib::model
