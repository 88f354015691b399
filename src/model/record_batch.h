// Kafka's v2 record batch (magic 2): header parsing and validation, record iteration, and a
// builder. Layout: docs/formats/record-batch.md. Batches are kept as the bytes that arrived;
// these functions read them in place and never trust a length they have not checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "model/compression.h"
#include "model/errc.h"

namespace trib::model {

constexpr size_t batch_header_size = 61;
// Bytes before the CRC-covered part: baseOffset, batchLength, partitionLeaderEpoch, magic, crc.
constexpr size_t batch_crc_start = 21;
// batchLength counts the bytes after itself.
constexpr size_t batch_length_overhead = 12;

struct batch_header {
    int64_t base_offset = 0;
    int32_t batch_length = 0;
    int32_t partition_leader_epoch = -1;
    int8_t magic = 2;
    uint32_t crc = 0;
    int16_t attributes = 0;
    int32_t last_offset_delta = 0;
    int64_t base_timestamp = -1;
    int64_t max_timestamp = -1;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    int32_t record_count = 0;

    compression codec() const { return static_cast<compression>(attributes & 0x7); }
    bool log_append_time() const { return (attributes & 0x8) != 0; }
    bool is_transactional() const { return (attributes & 0x10) != 0; }
    bool is_control() const { return (attributes & 0x20) != 0; }
    int64_t last_offset() const { return base_offset + last_offset_delta; }
    size_t size_bytes() const { return static_cast<size_t>(batch_length) + batch_length_overhead; }
    friend bool operator==(const batch_header&, const batch_header&) = default;
};

// Reads the header at the start of `data` and checks what the header alone can show: magic 2,
// batchLength at least the header and within `data`, a codec we know, and
// 0 <= recordsCount <= lastOffsetDelta + 1 (compaction leaves fewer records than offsets;
// the Produce path demands equality). The CRC is checked by verify_batch.
result<batch_header> parse_batch_header(std::span<const uint8_t> data);
// The header's fields as they are, unchecked; `data` holds at least batch_header_size bytes
// (a log scan that reads headers alone, hopping from batch to batch).
batch_header header_fields(std::span<const uint8_t> data);

// The whole first batch of `data` checked: header, CRC-32C over its bytes.
result<batch_header> verify_batch(std::span<const uint8_t> data);

// Splits a concatenation of batches (a `records` field, or a stretch of a segment).
// A batch cut off at the end stops the walk without an error (Fetch responses may end so);
// anything malformed before that is an error.
class batch_walker {
  public:
    explicit batch_walker(std::span<const uint8_t> data) : _data(data) {}
    // The next whole, CRC-checked batch; nullopt at the end or at a cut-off tail.
    result<std::optional<batch_header>> next();
    // Bytes of the batch `next` returned last.
    std::span<const uint8_t> current() const { return _current; }
    size_t position() const { return _pos; }  // offset of the next batch in `data`
    bool truncated_tail() const { return _truncated_tail; }

  private:
    std::span<const uint8_t> _data;
    std::span<const uint8_t> _current;
    size_t _pos = 0;
    bool _truncated_tail = false;
};

struct record_header_view {
    std::span<const uint8_t> key;
    std::optional<std::span<const uint8_t>> value;
};

// One record, pointing into the batch (or its decompressed records).
struct record_view {
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    std::optional<std::span<const uint8_t>> key;    // nullopt: null key
    std::optional<std::span<const uint8_t>> value;  // nullopt: null value (a tombstone)
    std::vector<record_header_view> headers;
};

// Calls `visit` for every record of a verified batch, decompressing if needed (at most
// `max_decompressed` bytes). Fails if a record does not fit, if there are more or fewer
// records than recordsCount, or if bytes are left over.
status for_each_record(std::span<const uint8_t> batch, size_t max_decompressed,
                       const std::function<void(const record_view&)>& visit);

// An owned record, for building batches.
struct record {
    int64_t timestamp = 0;
    std::optional<std::vector<uint8_t>> key;
    std::optional<std::vector<uint8_t>> value;
    std::vector<std::pair<std::string, std::optional<std::vector<uint8_t>>>> headers;
    int32_t offset_delta = -1;  // -1: its index in the batch (compaction keeps the original)
};

// `r` of the batch with header `h`, copied out, with its absolute timestamp.
record owned_record(const batch_header& h, const record_view& r);

struct batch_options {
    int64_t base_offset = 0;
    compression codec = compression::none;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    int32_t partition_leader_epoch = -1;
    bool transactional = false;
    bool control = false;
    // Set when rewriting a batch whose last records were removed (compaction): keeps the
    // original lastOffsetDelta so the batch still covers its offsets.
    std::optional<int32_t> last_offset_delta;
    // Set for a LogAppendTime batch: the broker's append time, which becomes maxTimestamp.
    std::optional<int64_t> log_append_time_ms;
    // Set when compaction empties a batch it must keep: the original base and max timestamps
    // (a producer's last activity is read from them when its state is rebuilt).
    std::optional<std::pair<int64_t, int64_t>> empty_batch_timestamps;
};

// Encodes `records` as one v2 batch with a correct CRC.
result<std::vector<uint8_t>> build_batch(const batch_options& options,
                                         std::span<const record> records);

// The same records in one batch compressed with `codec` (what a topic's compression.type
// does to a batch in another codec): offsets deltas, timestamps, producer id, epoch and
// sequence kept.
result<std::vector<uint8_t>> recompress_batch(std::span<const uint8_t> batch, compression codec,
                                              size_t max_decompressed);

// Header fields outside the CRC, rewritten in place when a leader appends a batch.
void set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);
// Marks a verified batch LogAppendTime with `timestamp` as its max timestamp (what a topic
// with message.timestamp.type=LogAppendTime does on append) and recomputes its CRC.
void set_log_append_time(std::span<uint8_t> batch, int64_t timestamp);

}  // namespace trib::model
