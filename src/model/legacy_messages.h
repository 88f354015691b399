// Kafka's message sets of magic 0 and 1 (before record batches), which old producers send
// in Produce v0-v2. They are read into records here so the broker can store them as one v2
// batch, as Kafka 3.x up-converts them: each message's CRC-32 checked, compressed wrappers
// (gzip, snappy, lz4) opened, timestamps kept (magic 1; -1 for magic 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "model/compression.h"
#include "model/record_batch.h"

namespace trib::model {

struct legacy_message_set {
    compression codec = compression::none;  // of the (last) compressed wrapper, if any
    bool log_append_time = false;           // a magic 1 wrapper said LogAppendTime
    std::vector<record> records;            // offset deltas 0, 1, ... in order
};

// Whether `data` starts with a message of magic 0 or 1 (rather than a v2 batch).
bool is_legacy_message_set(std::span<const uint8_t> data);

// Reads a whole message set; inflates at most `max_decompressed` bytes per wrapper. Fails
// on a bad CRC, a truncated or malformed message, nested compression or an empty set.
result<legacy_message_set> read_legacy_messages(std::span<const uint8_t> data,
                                                size_t max_decompressed);

// The same set written as a producer of `magic` would (tests and benchmarks): uncompressed,
// or inside one wrapper of `codec`.
std::vector<uint8_t> write_legacy_messages(int8_t magic, compression codec,
                                           std::span<const record> records);

}  // namespace trib::model
