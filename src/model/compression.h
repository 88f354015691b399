// The record-batch compression codecs Kafka uses: gzip (zlib), snappy (raw, and the xerial
// framing the Java client, kafka-python and KafkaJS write), lz4 (frame format) and zstd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "model/errc.h"

namespace trib::model {

enum class compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

const char* compression_name(compression c);

// Compressed form of `data`: what a producer using `c` would send.
result<std::vector<uint8_t>> compress(compression c, std::span<const uint8_t> data);

// Inflates `data`; fails with decompressed_too_large rather than produce more than
// `max_size` bytes, so a small hostile batch cannot claim unbounded memory.
result<std::vector<uint8_t>> decompress(compression c, std::span<const uint8_t> data,
                                        size_t max_size);

}  // namespace trib::model
