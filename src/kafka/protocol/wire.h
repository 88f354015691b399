// Primitive encoders and decoders of the Kafka protocol (classic and flexible/compact forms),
// used by the codecs generated from the message schemas. Decoding is bounds-checked: the
// reader keeps the first error and returns zero values after it, so generated code can read
// a whole struct and check once. Format: docs/formats/kafka-codegen.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "base/result.h"

namespace trib::kafka::protocol {

enum class errc {
    truncated = 1,         // input ends inside a value
    negative_length,       // a length below -1, or -1 where null is not allowed
    length_too_large,      // a length or count larger than the bytes that remain
    varint_overflow,       // a varint longer than its type allows
    trailing_bytes,        // bytes left after the message
    null_not_allowed,      // encoding null into a version where the field is not nullable
    field_not_in_version,  // a non-ignorable, non-default field the version does not have
    unsupported_version,   // a version outside the schema's validVersions
    tag_order,             // tagged fields not in strictly ascending tag order
    tag_size_mismatch,     // a tagged field's value did not fill exactly its stated size
    unknown_api_key,
};
const std::error_category& protocol_category();
inline std::error_code make_error_code(errc e) {
    return {static_cast<int>(e), protocol_category()};
}

}  // namespace trib::kafka::protocol

template <>
struct std::is_error_code_enum<trib::kafka::protocol::errc> : std::true_type {};

namespace trib::kafka::protocol {

using bytes = std::vector<uint8_t>;

struct uuid {
    std::array<uint8_t, 16> value{};
    friend bool operator==(const uuid&, const uuid&) = default;
};

// A tagged field this build does not know: kept when decoding and written back when encoding.
struct tagged_field {
    uint32_t tag = 0;
    bytes data;
    friend bool operator==(const tagged_field&, const tagged_field&) = default;
};
using tagged_fields = std::vector<tagged_field>;

class reader {
  public:
    explicit reader(std::span<const uint8_t> data)
        : _pos(data.data()), _end(data.data() + data.size()) {}

    bool ok() const { return !_error; }
    std::error_code error() const { return _error; }
    void fail(errc e) {
        if (!_error) _error = make_error_code(e);
        _pos = _end;
    }
    size_t remaining() const { return static_cast<size_t>(_end - _pos); }

    int8_t read_int8();
    int16_t read_int16();
    int32_t read_int32();
    int64_t read_int64();
    uint16_t read_uint16();
    uint32_t read_uint32();
    double read_float64();
    bool read_bool() { return read_int8() != 0; }
    uuid read_uuid();
    uint32_t read_uvarint();
    int32_t read_varint();
    int64_t read_varlong();

    // Strings, bytes and arrays: `compact` selects the flexible (varint length + 1) form.
    std::optional<std::string> read_nullable_string(bool compact);
    std::string read_string(bool compact);
    std::optional<bytes> read_nullable_bytes(bool compact);
    bytes read_bytes(bool compact);
    // An array's element count, -1 for null. Each element takes at least `min_element_bytes`,
    // so a count the remaining input cannot hold fails here, before anything is allocated.
    int32_t read_array_length(bool compact, bool nullable, size_t min_element_bytes);
    // Starts a tagged-field section: the number of fields.
    uint32_t read_tag_count() { return read_uvarint(); }
    // Reads one tagged field's header and returns a reader over exactly its value.
    reader read_tagged_value(uint32_t& tag, int64_t& last_tag);
    // Takes the error of a nested reader (a tagged value), and checks it was fully read.
    void finish_tagged_value(const reader& value);
    bytes read_rest();

  private:
    const uint8_t* take(size_t n);
    uint64_t read_varint_bits(int bits);
    int32_t read_length(bool compact, bool nullable, bool wide);

    const uint8_t* _pos;
    const uint8_t* _end;
    std::error_code _error;
};

class writer {
  public:
    bool ok() const { return !_error; }
    std::error_code error() const { return _error; }
    void fail(errc e) {
        if (!_error) _error = make_error_code(e);
    }
    void fail_from(const writer& nested) {
        if (!_error) _error = nested._error;
    }
    const bytes& data() const& { return _buf; }
    bytes&& data() && { return std::move(_buf); }
    size_t size() const { return _buf.size(); }

    void write_int8(int8_t v) { _buf.push_back(static_cast<uint8_t>(v)); }
    void write_int16(int16_t v) { write_be(static_cast<uint16_t>(v), 2); }
    void write_int32(int32_t v) { write_be(static_cast<uint32_t>(v), 4); }
    void write_int64(int64_t v) { write_be(static_cast<uint64_t>(v), 8); }
    void write_uint16(uint16_t v) { write_be(v, 2); }
    void write_uint32(uint32_t v) { write_be(v, 4); }
    void write_float64(double v);
    void write_bool(bool v) { write_int8(v ? 1 : 0); }
    void write_uuid(const uuid& v) { append(v.value); }
    void write_uvarint(uint32_t v);
    void write_varint(int32_t v);
    void write_varlong(int64_t v);

    void write_string(const std::string& v, bool compact);
    void write_nullable_string(const std::optional<std::string>& v, bool compact);
    void write_bytes(const bytes& v, bool compact);
    void write_nullable_bytes(const std::optional<bytes>& v, bool compact);
    void write_array_length(int32_t n, bool compact);  // n == -1 writes null
    // Writes a tagged-field section: the known fields (ascending) merged with unknown ones.
    void write_tagged_fields(const tagged_fields& known, const tagged_fields& unknown);
    void append(std::span<const uint8_t> raw);

  private:
    void write_be(uint64_t v, int width);
    void write_length(size_t n, bool compact, bool wide);

    bytes _buf;
    std::error_code _error;
};

struct version_range {
    int16_t min;
    int16_t max;
    constexpr bool contains(int16_t v) const { return v >= min && v <= max; }
};

// Encodes a message body (no header) at `version`.
template <typename Message>
result<bytes> encode(const Message& m, int16_t version) {
    if (!Message::valid_versions.contains(version)) return errc::unsupported_version;
    writer w;
    m.encode(w, version);
    if (!w.ok()) return unexpected(w.error());
    return std::move(w).data();
}

enum class trailing { refuse, ignore };

// Decodes a message body at `version`. Leftover bytes are an error unless `trailing::ignore`:
// Kafka reads the fields a request's version has and ignores what follows (librdkafka 2.0
// sends extra bytes in ListGroups v3+ and OffsetFetch v6+), so requests are read that way;
// a body that is too short is always an error.
template <typename Message>
result<Message> decode(std::span<const uint8_t> data, int16_t version,
                       trailing leftover = trailing::refuse) {
    if (!Message::valid_versions.contains(version)) return errc::unsupported_version;
    reader r(data);
    Message m;
    m.decode(r, version);
    if (r.ok() && r.remaining() != 0 && leftover == trailing::refuse) {
        r.fail(errc::trailing_bytes);
    }
    if (!r.ok()) return unexpected(r.error());
    return m;
}

}  // namespace trib::kafka::protocol
