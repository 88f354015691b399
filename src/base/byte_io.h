// Big-endian fields in and out of byte buffers, for our own binary formats (the node-to-node
// codec, the Raft store's small files, the controller's commands and snapshot). The reader
// never reads past its input: a short input sets !ok() and every later read returns zero or
// empty, so a decoder checks ok() once at the end.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/big_endian.h"

namespace trib {

class byte_writer {
  public:
    explicit byte_writer(std::vector<uint8_t>& out) : _out(out) {}
    void u8(uint8_t v) { _out.push_back(v); }
    void u16(uint16_t v) { put(v, 2); }
    void u32(uint32_t v) { put(v, 4); }
    void i16(int16_t v) { put(static_cast<uint16_t>(v), 2); }
    void i32(int32_t v) { put(static_cast<uint32_t>(v), 4); }
    void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
    void u64(uint64_t v) { put(v, 8); }
    void raw(std::span<const uint8_t> b) { _out.insert(_out.end(), b.begin(), b.end()); }
    // A string of at most 65535 bytes, after a u16 length.
    void str(std::string_view s) {
        u16(static_cast<uint16_t>(s.size()));
        _out.insert(_out.end(), s.begin(), s.end());
    }
    std::vector<uint8_t>& out() { return _out; }

  private:
    void put(uint64_t v, int width) {
        size_t at = _out.size();
        _out.resize(at + static_cast<size_t>(width));
        big_endian::store(_out.data() + at, v, width);
    }
    std::vector<uint8_t>& _out;
};

class byte_reader {
  public:
    explicit byte_reader(std::span<const uint8_t> in) : _in(in) {}
    bool done() const { return _pos == _in.size(); }
    bool ok() const { return _ok; }
    size_t position() const { return _pos; }
    size_t remaining() const { return _in.size() - _pos; }
    uint8_t u8() { return static_cast<uint8_t>(get(1)); }
    uint16_t u16() { return static_cast<uint16_t>(get(2)); }
    uint32_t u32() { return static_cast<uint32_t>(get(4)); }
    int16_t i16() { return static_cast<int16_t>(get(2)); }
    int32_t i32() { return static_cast<int32_t>(get(4)); }
    int64_t i64() { return static_cast<int64_t>(get(8)); }
    uint64_t u64() { return get(8); }
    std::span<const uint8_t> raw(size_t n) {
        if (!_ok || remaining() < n) {
            _ok = false;
            return {};
        }
        auto from = _in.subspan(_pos, n);
        _pos += n;
        return from;
    }
    std::string str() {
        auto b = raw(u16());
        return {b.begin(), b.end()};
    }
    // Marks the input bad (a decoder found a value out of range).
    void fail() { _ok = false; }

  private:
    uint64_t get(int width) {
        auto w = static_cast<size_t>(width);
        if (!_ok || _in.size() - _pos < w) {
            _ok = false;
            return 0;
        }
        uint64_t v = big_endian::load(_in.data() + _pos, width);
        _pos += w;
        return v;
    }
    std::span<const uint8_t> _in;
    size_t _pos = 0;
    bool _ok = true;
};

}  // namespace trib
