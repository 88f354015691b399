#include "model/record_batch.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/assert.h"
#include "base/big_endian.h"
#include "base/varint.h"
#include "model/crc32c.h"

namespace trib::model {

namespace {

class model_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "model"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::truncated:
                return "record batch truncated";
            case errc::bad_length:
                return "invalid record batch length";
            case errc::bad_magic:
                return "unsupported record batch magic";
            case errc::bad_crc:
                return "record batch CRC mismatch";
            case errc::bad_record_count:
                return "record count does not match the records";
            case errc::bad_record:
                return "malformed record";
            case errc::unsupported_compression:
                return "unknown compression codec";
            case errc::decompression_failed:
                return "records do not decompress";
            case errc::decompressed_too_large:
                return "decompressed records exceed the size limit";
            case errc::compression_failed:
                return "compression failed";
        }
        return "unknown model error";
    }
};

// Reads records' varints and byte strings, remembering the first failure.
class record_reader {
  public:
    explicit record_reader(std::span<const uint8_t> data) : _data(data) {}
    bool ok() const { return _ok; }
    size_t remaining() const { return _data.size() - _pos; }

    int64_t varlong() { return read(64); }
    int32_t varint() { return static_cast<int32_t>(read(32)); }
    int8_t int8() {
        if (!_ok || _pos >= _data.size()) return fail<int8_t>();
        return static_cast<int8_t>(_data[_pos++]);
    }
    // A varint length then that many bytes; -1 is null when allowed.
    std::optional<std::span<const uint8_t>> sized(bool nullable) {
        int32_t n = varint();
        if (!_ok) return std::nullopt;
        if (n == -1 && nullable) return std::nullopt;
        if (n < 0 || static_cast<size_t>(n) > remaining()) {
            _ok = false;
            return std::nullopt;
        }
        auto out = _data.subspan(_pos, static_cast<size_t>(n));
        _pos += static_cast<size_t>(n);
        return out;
    }
    record_reader sub(size_t n) {
        if (!_ok || n > remaining()) {
            _ok = false;
            return record_reader({});
        }
        record_reader r(_data.subspan(_pos, n));
        _pos += n;
        return r;
    }

  private:
    template <typename T>
    T fail() {
        _ok = false;
        return T{};
    }
    int64_t read(int bits) {
        if (!_ok) return 0;
        auto d = varint::decode_unsigned(_data.subspan(_pos), bits);
        if (d.status != varint::decode_status::ok) return fail<int64_t>();
        _pos += d.size;
        return bits == 32 ? varint::zigzag_decode(static_cast<uint32_t>(d.value))
                          : varint::zigzag_decode(d.value);
    }

    std::span<const uint8_t> _data;
    size_t _pos = 0;
    bool _ok = true;
};

// The smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
// value length and header count, one byte each.
constexpr size_t min_record_size = 7;

status parse_records(std::span<const uint8_t> data, int32_t count,
                     const std::function<void(const record_view&)>& visit) {
    if (static_cast<uint64_t>(count) * min_record_size > data.size()) {
        return errc::bad_record_count;
    }
    record_reader in(data);
    record_view rec;
    for (int32_t i = 0; i < count; ++i) {
        int32_t length = in.varint();
        if (!in.ok() || length < 0) return errc::bad_record;
        record_reader r = in.sub(static_cast<size_t>(length));
        r.int8();  // attributes: unused
        rec.timestamp_delta = r.varlong();
        rec.offset_delta = r.varint();
        rec.key = r.sized(true);
        rec.value = r.sized(true);
        int32_t header_count = r.varint();
        if (!r.ok() || header_count < 0 || static_cast<size_t>(header_count) * 2 > r.remaining()) {
            return errc::bad_record;
        }
        rec.headers.clear();
        for (int32_t h = 0; h < header_count; ++h) {
            auto key = r.sized(false);
            auto value = r.sized(true);
            if (!r.ok()) return errc::bad_record;
            rec.headers.push_back({*key, value});
        }
        if (!r.ok() || r.remaining() != 0) return errc::bad_record;
        visit(rec);
    }
    if (in.remaining() != 0) return errc::bad_record_count;
    return {};
}

void put_varint(std::vector<uint8_t>& out, int64_t v) {
    varint::encode_unsigned(varint::zigzag_encode(v), [&](uint8_t b) { out.push_back(b); });
}

void put_sized(std::vector<uint8_t>& out, const std::optional<std::vector<uint8_t>>& v) {
    if (!v) {
        put_varint(out, -1);
        return;
    }
    put_varint(out, static_cast<int64_t>(v->size()));
    out.insert(out.end(), v->begin(), v->end());
}

size_t varint_size(int64_t v) {
    return varint::encoded_size(varint::zigzag_encode(v));
}

size_t sized_size(const std::optional<std::vector<uint8_t>>& v) {
    return v ? varint_size(static_cast<int64_t>(v->size())) + v->size() : varint_size(-1);
}

// The bytes of a record after its length prefix.
size_t record_body_size(const record& r, int64_t timestamp_delta, int32_t offset_delta) {
    size_t n = 1 + varint_size(timestamp_delta) + varint_size(offset_delta) + sized_size(r.key) +
               sized_size(r.value) + varint_size(static_cast<int64_t>(r.headers.size()));
    for (const auto& [key, value] : r.headers) {
        n += varint_size(static_cast<int64_t>(key.size())) + key.size() + sized_size(value);
    }
    return n;
}

// Appends the record (length prefix, then body) to `out`, whose capacity the caller reserved:
// sizes are computed first, so nothing is built twice or copied again.
void encode_record(std::vector<uint8_t>& out, const record& r, int64_t base_timestamp,
                   int32_t offset_delta) {
    int64_t timestamp_delta = r.timestamp - base_timestamp;
    put_varint(out, static_cast<int64_t>(record_body_size(r, timestamp_delta, offset_delta)));
    out.push_back(0);  // attributes
    put_varint(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_sized(out, r.key);
    put_sized(out, r.value);
    put_varint(out, static_cast<int64_t>(r.headers.size()));
    for (const auto& [key, value] : r.headers) {
        put_varint(out, static_cast<int64_t>(key.size()));
        out.insert(out.end(), key.begin(), key.end());
        put_sized(out, value);
    }
}

}  // namespace

const std::error_category& model_category() {
    static const model_category_impl instance;
    return instance;
}

batch_header header_fields(std::span<const uint8_t> data) {
    TRIB_ASSERT(data.size() >= batch_header_size);
    const uint8_t* p = data.data();
    batch_header h;
    h.base_offset = static_cast<int64_t>(big_endian::load(p, 8));
    h.batch_length = static_cast<int32_t>(big_endian::load(p + 8, 4));
    h.partition_leader_epoch = static_cast<int32_t>(big_endian::load(p + 12, 4));
    h.magic = static_cast<int8_t>(p[16]);
    h.crc = static_cast<uint32_t>(big_endian::load(p + 17, 4));
    h.attributes = static_cast<int16_t>(big_endian::load(p + 21, 2));
    h.last_offset_delta = static_cast<int32_t>(big_endian::load(p + 23, 4));
    h.base_timestamp = static_cast<int64_t>(big_endian::load(p + 27, 8));
    h.max_timestamp = static_cast<int64_t>(big_endian::load(p + 35, 8));
    h.producer_id = static_cast<int64_t>(big_endian::load(p + 43, 8));
    h.producer_epoch = static_cast<int16_t>(big_endian::load(p + 51, 2));
    h.base_sequence = static_cast<int32_t>(big_endian::load(p + 53, 4));
    h.record_count = static_cast<int32_t>(big_endian::load(p + 57, 4));
    return h;
}

result<batch_header> parse_batch_header(std::span<const uint8_t> data) {
    if (data.size() < batch_header_size) return errc::truncated;
    batch_header h = header_fields(data);
    if (h.batch_length < static_cast<int32_t>(batch_header_size - batch_length_overhead)) {
        return errc::bad_length;
    }
    if (h.magic != 2) return errc::bad_magic;
    if (h.size_bytes() > data.size()) return errc::truncated;
    if (static_cast<int>(h.codec()) > static_cast<int>(compression::zstd)) {
        return errc::unsupported_compression;
    }
    if (h.record_count < 0 || h.last_offset_delta < 0 ||
        static_cast<int64_t>(h.record_count) > int64_t{h.last_offset_delta} + 1) {
        return errc::bad_record_count;
    }
    return h;
}

result<batch_header> verify_batch(std::span<const uint8_t> data) {
    auto h = parse_batch_header(data);
    if (!h) return h;
    auto covered = data.subspan(batch_crc_start, h->size_bytes() - batch_crc_start);
    if (crc32c(covered) != h->crc) return errc::bad_crc;
    return h;
}

result<std::optional<batch_header>> batch_walker::next() {
    _current = {};
    if (_pos == _data.size()) return std::optional<batch_header>();
    auto rest = _data.subspan(_pos);
    auto h = verify_batch(rest);
    if (!h) {
        // A header that says more bytes than remain is a cut-off tail, not corruption,
        // provided what is there looks like the start of a batch.
        if (h.error() == errc::truncated) {
            _truncated_tail = true;
            return std::optional<batch_header>();
        }
        return unexpected(h.error());
    }
    _current = rest.first(h->size_bytes());
    _pos += h->size_bytes();
    return std::optional<batch_header>(*h);
}

status for_each_record(std::span<const uint8_t> batch, size_t max_decompressed,
                       const std::function<void(const record_view&)>& visit) {
    auto h = parse_batch_header(batch);
    if (!h) return unexpected(h.error());
    auto records = batch.subspan(batch_header_size, h->size_bytes() - batch_header_size);
    if (h->codec() == compression::none) return parse_records(records, h->record_count, visit);
    auto inflated = decompress(h->codec(), records, max_decompressed);
    if (!inflated) return unexpected(inflated.error());
    return parse_records(*inflated, h->record_count, visit);
}

result<std::vector<uint8_t>> build_batch(const batch_options& options,
                                         std::span<const record> records) {
    batch_header h;
    h.base_offset = options.base_offset;
    h.partition_leader_epoch = options.partition_leader_epoch;
    h.attributes =
        static_cast<int16_t>(static_cast<int>(options.codec) | (options.transactional ? 0x10 : 0) |
                             (options.control ? 0x20 : 0) | (options.log_append_time_ms ? 0x8 : 0));
    h.producer_id = options.producer_id;
    h.producer_epoch = options.producer_epoch;
    h.base_sequence = options.base_sequence;
    h.record_count = static_cast<int32_t>(records.size());
    int32_t last_delta = 0;
    if (!records.empty()) {
        h.base_timestamp = records.front().timestamp;
        h.max_timestamp = records.front().timestamp;
    } else if (options.empty_batch_timestamps) {
        h.base_timestamp = options.empty_batch_timestamps->first;
        h.max_timestamp = options.empty_batch_timestamps->second;
    }
    auto delta_of = [&](size_t i) {
        return records[i].offset_delta >= 0 ? records[i].offset_delta : static_cast<int32_t>(i);
    };
    // Uncompressed, the records go straight after the header's place in the output.
    size_t body_size = 0;
    for (size_t i = 0; i < records.size(); ++i) {
        size_t n =
            record_body_size(records[i], records[i].timestamp - h.base_timestamp, delta_of(i));
        body_size += varint_size(static_cast<int64_t>(n)) + n;
    }
    bool compressed = options.codec != compression::none;
    std::vector<uint8_t> out;
    std::vector<uint8_t> plain;
    std::vector<uint8_t>& body = compressed ? plain : out;
    body.reserve((compressed ? 0 : batch_header_size) + body_size);
    if (!compressed) out.resize(batch_header_size);
    for (size_t i = 0; i < records.size(); ++i) {
        int32_t delta = delta_of(i);
        last_delta = std::max(last_delta, delta);
        h.max_timestamp = std::max(h.max_timestamp, records[i].timestamp);
        encode_record(body, records[i], h.base_timestamp, delta);
    }
    h.last_offset_delta = options.last_offset_delta.value_or(last_delta);
    if (options.log_append_time_ms) h.max_timestamp = *options.log_append_time_ms;
    if (compressed) {
        auto packed = compress(options.codec, plain);
        if (!packed) return unexpected(packed.error());
        out.resize(batch_header_size + packed->size());
        std::memcpy(out.data() + batch_header_size, packed->data(), packed->size());
    }
    uint8_t* p = out.data();
    h.batch_length = static_cast<int32_t>(out.size() - batch_length_overhead);
    big_endian::store(p, static_cast<uint64_t>(h.base_offset), 8);
    big_endian::store(p + 8, static_cast<uint32_t>(h.batch_length), 4);
    big_endian::store(p + 12, static_cast<uint32_t>(h.partition_leader_epoch), 4);
    p[16] = 2;
    big_endian::store(p + 21, static_cast<uint16_t>(h.attributes), 2);
    big_endian::store(p + 23, static_cast<uint32_t>(h.last_offset_delta), 4);
    big_endian::store(p + 27, static_cast<uint64_t>(h.base_timestamp), 8);
    big_endian::store(p + 35, static_cast<uint64_t>(h.max_timestamp), 8);
    big_endian::store(p + 43, static_cast<uint64_t>(h.producer_id), 8);
    big_endian::store(p + 51, static_cast<uint16_t>(h.producer_epoch), 2);
    big_endian::store(p + 53, static_cast<uint32_t>(h.base_sequence), 4);
    big_endian::store(p + 57, static_cast<uint32_t>(h.record_count), 4);
    uint32_t crc = crc32c(std::span<const uint8_t>(out).subspan(batch_crc_start));
    big_endian::store(p + 17, crc, 4);
    return out;
}

void set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
    TRIB_ASSERT(batch.size() >= batch_header_size);
    big_endian::store(batch.data(), static_cast<uint64_t>(base_offset), 8);
}

void set_log_append_time(std::span<uint8_t> batch, int64_t timestamp) {
    TRIB_ASSERT(batch.size() >= batch_header_size);
    uint8_t* p = batch.data();
    auto attributes = static_cast<uint16_t>(big_endian::load(p + 21, 2) | 0x8);
    big_endian::store(p + 21, attributes, 2);
    big_endian::store(p + 35, static_cast<uint64_t>(timestamp), 8);
    auto size = static_cast<size_t>(static_cast<uint32_t>(big_endian::load(p + 8, 4))) +
                batch_length_overhead;
    TRIB_ASSERT(size <= batch.size());
    uint32_t crc = crc32c(std::span<const uint8_t>(p + batch_crc_start, size - batch_crc_start));
    big_endian::store(p + 17, crc, 4);
}

void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
    TRIB_ASSERT(batch.size() >= batch_header_size);
    big_endian::store(batch.data() + 12, static_cast<uint32_t>(epoch), 4);
}

}  // namespace trib::model

namespace trib::model {

record owned_record(const batch_header& h, const record_view& r) {
    record out;
    out.timestamp = h.base_timestamp + r.timestamp_delta;
    out.offset_delta = r.offset_delta;
    if (r.key) out.key.emplace(r.key->begin(), r.key->end());
    if (r.value) out.value.emplace(r.value->begin(), r.value->end());
    for (const auto& hdr : r.headers) {
        std::optional<std::vector<uint8_t>> value;
        if (hdr.value) value.emplace(hdr.value->begin(), hdr.value->end());
        out.headers.emplace_back(std::string(hdr.key.begin(), hdr.key.end()), std::move(value));
    }
    return out;
}

result<std::vector<uint8_t>> recompress_batch(std::span<const uint8_t> batch, compression codec,
                                              size_t max_decompressed) {
    auto h = TRIB_TRY(verify_batch(batch));
    std::vector<record> records;
    TRIB_TRY(for_each_record(batch, max_decompressed,
                             [&](const record_view& r) { records.push_back(owned_record(h, r)); }));
    batch_options o;
    o.base_offset = h.base_offset;
    o.codec = codec;
    o.producer_id = h.producer_id;
    o.producer_epoch = h.producer_epoch;
    o.base_sequence = h.base_sequence;
    o.partition_leader_epoch = h.partition_leader_epoch;
    o.transactional = h.is_transactional();
    o.control = h.is_control();
    o.last_offset_delta = h.last_offset_delta;
    if (h.log_append_time()) o.log_append_time_ms = h.max_timestamp;
    return build_batch(o, records);
}

}  // namespace trib::model
