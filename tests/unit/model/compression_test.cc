// Every codec round-trips; corrupt, truncated and oversized inputs fail cleanly; snappy
// accepts both the raw form (librdkafka) and the xerial framing (Java, kafka-python, KafkaJS).
#include "model/compression.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <snappy.h>

namespace trib::model {
namespace {

using bytes = std::vector<uint8_t>;
constexpr compression codecs[] = {compression::gzip, compression::snappy, compression::lz4,
                                  compression::zstd};

// Log-like text: repetitive enough that every codec at least halves it.
bytes sample(size_t n) {
    std::mt19937 rng(42);
    bytes out;
    while (out.size() < n) {
        auto line = "GET /api/items/" + std::to_string(rng() % 100) + " 200\n";
        out.insert(out.end(), line.begin(), line.end());
    }
    out.resize(n);
    return out;
}

TEST(compression, every_codec_round_trips) {
    for (auto c : codecs) {
        for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{300000}}) {
            auto in = sample(n);
            auto packed = compress(c, in);
            ASSERT_TRUE(packed.has_value()) << compression_name(c);
            if (n == 300000) {
                EXPECT_LT(packed->size(), n / 2) << compression_name(c) << " " << packed->size();
            }
            auto out = decompress(c, *packed, n + 1);
            ASSERT_TRUE(out.has_value()) << compression_name(c) << " " << n;
            EXPECT_EQ(*out, in) << compression_name(c);
        }
    }
}

TEST(compression, output_limit_stops_decompression_bombs) {
    bytes zeros(4 << 20);
    for (auto c : codecs) {
        auto packed = compress(c, zeros);
        ASSERT_TRUE(packed.has_value());
        auto out = decompress(c, *packed, 1 << 20);
        ASSERT_FALSE(out.has_value()) << compression_name(c);
        EXPECT_EQ(out.error(), errc::decompressed_too_large) << compression_name(c);
        EXPECT_TRUE(decompress(c, *packed, zeros.size()).has_value()) << "exact limit";
    }
}

TEST(compression, truncations_and_garbage_fail_cleanly) {
    auto in = sample(5000);
    for (auto c : codecs) {
        auto packed = compress(c, in);
        ASSERT_TRUE(packed.has_value());
        for (size_t n = 0; n < packed->size(); n += 7) {
            auto out = decompress(c, std::span<const uint8_t>(*packed).first(n), 1 << 20);
            // A prefix must never yield the whole input; most prefixes are errors.
            if (out) {
                EXPECT_NE(*out, in) << compression_name(c) << " prefix " << n;
            }
        }
        bytes garbage(200, 0x5a);
        EXPECT_FALSE(decompress(c, garbage, 1 << 20).has_value()) << compression_name(c);
        bytes flipped = *packed;
        flipped[flipped.size() / 2] ^= 0xff;
        auto out = decompress(c, flipped, 1 << 20);
        if (out) {
            EXPECT_NE(*out, in) << compression_name(c) << ": corruption went unnoticed";
        }
    }
}

TEST(compression, snappy_xerial_framing) {
    auto part1 = sample(1000);
    auto part2 = sample(700);
    bytes framed = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    for (const auto* part : {&part1, &part2}) {
        std::string block;
        snappy::Compress(reinterpret_cast<const char*>(part->data()), part->size(), &block);
        auto n = static_cast<uint32_t>(block.size());
        for (int shift : {24, 16, 8, 0})
            framed.push_back(static_cast<uint8_t>(n >> shift));
        framed.insert(framed.end(), block.begin(), block.end());
    }
    auto out = decompress(compression::snappy, framed, 1 << 20);
    ASSERT_TRUE(out.has_value());
    bytes expected = part1;
    expected.insert(expected.end(), part2.begin(), part2.end());
    EXPECT_EQ(*out, expected);
    // A block length running past the end is an error, not a read past the buffer.
    framed[16] = 0x7f;  // high byte of the first block length
    EXPECT_FALSE(decompress(compression::snappy, framed, 1 << 20).has_value());
}

}  // namespace
}  // namespace trib::model
