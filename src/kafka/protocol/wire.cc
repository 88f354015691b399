#include "kafka/protocol/wire.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/big_endian.h"
#include "base/varint.h"

namespace trib::kafka::protocol {
namespace {

class protocol_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "kafka.protocol"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::truncated:
                return "input truncated";
            case errc::negative_length:
                return "invalid negative length";
            case errc::length_too_large:
                return "length exceeds the remaining input";
            case errc::varint_overflow:
                return "varint overflows its type";
            case errc::trailing_bytes:
                return "trailing bytes after the message";
            case errc::null_not_allowed:
                return "null is not allowed in this version";
            case errc::field_not_in_version:
                return "field has a value this version cannot carry";
            case errc::unsupported_version:
                return "unsupported version";
            case errc::tag_order:
                return "tagged fields out of order";
            case errc::tag_size_mismatch:
                return "tagged field size mismatch";
            case errc::unknown_api_key:
                return "unknown API key";
        }
        return "unknown protocol error";
    }
};

}  // namespace

const std::error_category& protocol_category() {
    static const protocol_category_impl category;
    return category;
}

const uint8_t* reader::take(size_t n) {
    if (_error) return nullptr;
    if (remaining() < n) {
        fail(errc::truncated);
        return nullptr;
    }
    const uint8_t* p = _pos;
    _pos += n;
    return p;
}

namespace {}  // namespace

int8_t reader::read_int8() {
    auto p = take(1);
    return p ? static_cast<int8_t>(p[0]) : int8_t{0};
}
int16_t reader::read_int16() {
    auto p = take(2);
    return p ? static_cast<int16_t>(big_endian::load(p, 2)) : int16_t{0};
}
int32_t reader::read_int32() {
    auto p = take(4);
    return p ? static_cast<int32_t>(big_endian::load(p, 4)) : 0;
}
int64_t reader::read_int64() {
    auto p = take(8);
    return p ? static_cast<int64_t>(big_endian::load(p, 8)) : 0;
}
uint16_t reader::read_uint16() {
    auto p = take(2);
    return p ? static_cast<uint16_t>(big_endian::load(p, 2)) : 0;
}
uint32_t reader::read_uint32() {
    auto p = take(4);
    return p ? static_cast<uint32_t>(big_endian::load(p, 4)) : 0;
}
double reader::read_float64() {
    return std::bit_cast<double>(static_cast<uint64_t>(read_int64()));
}

uuid reader::read_uuid() {
    uuid u;
    if (auto p = take(16)) std::memcpy(u.value.data(), p, 16);
    return u;
}

// The varint forms (unsigned for lengths and tags, zigzag for signed) live in base/varint.h,
// shared with the record format.
uint64_t reader::read_varint_bits(int bits) {
    auto d = varint::decode_unsigned(std::span<const uint8_t>(_pos, _end), bits);
    if (d.status == varint::decode_status::overflow) {
        fail(errc::varint_overflow);
        return 0;
    }
    if (d.status == varint::decode_status::truncated) {
        fail(errc::truncated);
        return 0;
    }
    _pos += d.size;
    return d.value;
}

uint32_t reader::read_uvarint() {
    return static_cast<uint32_t>(read_varint_bits(32));
}

int32_t reader::read_varint() {
    return varint::zigzag_decode(static_cast<uint32_t>(read_varint_bits(32)));
}

int64_t reader::read_varlong() {
    return varint::zigzag_decode(read_varint_bits(64));
}

// Returns the length, -1 for null (only if nullable), or 0 after failing.
int32_t reader::read_length(bool compact, bool nullable, bool wide) {
    int64_t n = 0;
    if (compact) {
        n = static_cast<int64_t>(read_uvarint()) - 1;
    } else {
        n = wide ? read_int32() : read_int16();
    }
    if (!ok()) return 0;
    if (n < -1 || (n == -1 && !nullable)) {
        fail(errc::negative_length);
        return 0;
    }
    if (n > INT32_MAX) {
        fail(errc::length_too_large);
        return 0;
    }
    return static_cast<int32_t>(n);
}

std::optional<std::string> reader::read_nullable_string(bool compact) {
    int32_t n = read_length(compact, true, false);
    if (n < 0) return std::nullopt;
    if (static_cast<size_t>(n) > remaining()) {
        fail(errc::length_too_large);
        return std::string();
    }
    auto p = take(static_cast<size_t>(n));
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))
             : std::string();
}

std::string reader::read_string(bool compact) {
    int32_t n = read_length(compact, false, false);
    if (static_cast<size_t>(n) > remaining()) {
        fail(errc::length_too_large);
        return {};
    }
    auto p = take(static_cast<size_t>(n));
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))
             : std::string();
}

std::optional<bytes> reader::read_nullable_bytes(bool compact) {
    int32_t n = read_length(compact, true, true);
    if (n < 0) return std::nullopt;
    if (static_cast<size_t>(n) > remaining()) {
        fail(errc::length_too_large);
        return bytes();
    }
    auto p = take(static_cast<size_t>(n));
    return p ? bytes(p, p + n) : bytes();
}

bytes reader::read_bytes(bool compact) {
    int32_t n = read_length(compact, false, true);
    if (static_cast<size_t>(n) > remaining()) {
        fail(errc::length_too_large);
        return {};
    }
    auto p = take(static_cast<size_t>(n));
    return p ? bytes(p, p + n) : bytes();
}

int32_t reader::read_array_length(bool compact, bool nullable, size_t min_element_bytes) {
    int32_t n = read_length(compact, nullable, true);
    if (n <= 0) return n;
    // Elements that may take no bytes at all (rare) are still bounded by the input size.
    size_t needed = static_cast<size_t>(n) * std::max<size_t>(min_element_bytes, 1);
    if (needed > remaining() + (min_element_bytes == 0 ? 1024 : 0)) {
        fail(errc::length_too_large);
        return 0;
    }
    return n;
}

reader reader::read_tagged_value(uint32_t& tag, int64_t& last_tag) {
    tag = read_uvarint();
    uint32_t size = read_uvarint();
    if (ok() && static_cast<int64_t>(tag) <= last_tag) fail(errc::tag_order);
    last_tag = tag;
    if (ok() && size > remaining()) fail(errc::length_too_large);
    if (!ok()) return reader(std::span<const uint8_t>());
    reader value(std::span<const uint8_t>(_pos, size));
    _pos += size;
    return value;
}

void reader::finish_tagged_value(const reader& value) {
    if (!value.ok()) {
        fail(static_cast<errc>(value.error().value()));
    } else if (value.remaining() != 0) {
        fail(errc::tag_size_mismatch);
    }
}

bytes reader::read_rest() {
    bytes out(_pos, _end);
    _pos = _end;
    return out;
}

void writer::write_be(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i)
        _buf.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// resize + memcpy rather than vector::insert: GCC 12 reports a false stringop-overflow for
// insert into an empty vector after inlining.
void writer::append(std::span<const uint8_t> raw) {
    if (raw.empty()) return;
    size_t at = _buf.size();
    _buf.resize(at + raw.size());
    std::memcpy(_buf.data() + at, raw.data(), raw.size());
}

void writer::write_float64(double v) {
    write_int64(static_cast<int64_t>(std::bit_cast<uint64_t>(v)));
}

void writer::write_uvarint(uint32_t v) {
    varint::encode_unsigned(v, [this](uint8_t b) { _buf.push_back(b); });
}

void writer::write_varint(int32_t v) {
    write_uvarint(varint::zigzag_encode(v));
}

void writer::write_varlong(int64_t v) {
    varint::encode_unsigned(varint::zigzag_encode(v), [this](uint8_t b) { _buf.push_back(b); });
}

void writer::write_length(size_t n, bool compact, bool wide) {
    if (compact) {
        write_uvarint(static_cast<uint32_t>(n + 1));
    } else if (wide) {
        write_int32(static_cast<int32_t>(n));
    } else {
        write_int16(static_cast<int16_t>(n));
    }
}

void writer::write_string(const std::string& v, bool compact) {
    if (!compact && v.size() > INT16_MAX) return fail(errc::length_too_large);
    write_length(v.size(), compact, false);
    append(std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
}

void writer::write_nullable_string(const std::optional<std::string>& v, bool compact) {
    if (!v) return compact ? write_uvarint(0) : write_int16(-1);
    write_string(*v, compact);
}

void writer::write_bytes(const bytes& v, bool compact) {
    if (v.size() > INT32_MAX - 1) return fail(errc::length_too_large);
    write_length(v.size(), compact, true);
    append(v);
}

void writer::write_nullable_bytes(const std::optional<bytes>& v, bool compact) {
    if (!v) return compact ? write_uvarint(0) : write_int32(-1);
    write_bytes(*v, compact);
}

void writer::write_array_length(int32_t n, bool compact) {
    if (n < 0) return compact ? write_uvarint(0) : write_int32(-1);
    write_length(static_cast<size_t>(n), compact, true);
}

void writer::write_tagged_fields(const tagged_fields& known, const tagged_fields& unknown) {
    write_uvarint(static_cast<uint32_t>(known.size() + unknown.size()));
    size_t k = 0;
    size_t u = 0;
    int64_t last = -1;
    while (k < known.size() || u < unknown.size()) {
        bool take_known =
            u == unknown.size() || (k < known.size() && known[k].tag < unknown[u].tag);
        const tagged_field& f = take_known ? known[k++] : unknown[u++];
        if (static_cast<int64_t>(f.tag) <= last) return fail(errc::tag_order);
        last = f.tag;
        write_uvarint(f.tag);
        write_uvarint(static_cast<uint32_t>(f.data.size()));
        append(f.data);
    }
}

}  // namespace trib::kafka::protocol
