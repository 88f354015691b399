// Big-endian fields in and out of byte buffers, for the node-to-node codec and the Raft
// store's small files. The reader never reads past its input: a short input sets !ok() and
// every later read returns zero.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/big_endian.h"
#include "raft/core/types.h"

namespace trib::raft {

constexpr uint32_t null_length = 0xffffffff;  // a length field of absent bytes

class writer {
  public:
    explicit writer(std::vector<uint8_t>& out) : _out(out) {}
    void u8(uint8_t v) { _out.push_back(v); }
    void u16(uint16_t v) { put(v, 2); }
    void u32(uint32_t v) { put(v, 4); }
    void i32(int32_t v) { put(static_cast<uint32_t>(v), 4); }
    void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
    void u64(uint64_t v) { put(v, 8); }
    void bytes(const batch_bytes& b) {
        if (!b) {
            u32(null_length);
            return;
        }
        u32(static_cast<uint32_t>(b->size()));
        _out.insert(_out.end(), b->begin(), b->end());
    }

  private:
    void put(uint64_t v, int width) {
        size_t at = _out.size();
        _out.resize(at + static_cast<size_t>(width));
        big_endian::store(_out.data() + at, v, width);
    }
    std::vector<uint8_t>& _out;
};

class reader {
  public:
    explicit reader(std::span<const uint8_t> in) : _in(in) {}
    bool done() const { return _pos == _in.size(); }
    bool ok() const { return _ok; }
    size_t position() const { return _pos; }
    uint8_t u8() { return static_cast<uint8_t>(get(1)); }
    uint16_t u16() { return static_cast<uint16_t>(get(2)); }
    uint32_t u32() { return static_cast<uint32_t>(get(4)); }
    int32_t i32() { return static_cast<int32_t>(get(4)); }
    int64_t i64() { return static_cast<int64_t>(get(8)); }
    uint64_t u64() { return get(8); }
    batch_bytes bytes() {
        uint32_t n = u32();
        if (!_ok || n == null_length) {
            return nullptr;
        }
        if (_in.size() - _pos < n) {
            _ok = false;
            return nullptr;
        }
        auto from = _in.subspan(_pos, n);
        auto b = std::make_shared<const std::vector<uint8_t>>(from.begin(), from.end());
        _pos += n;
        return b;
    }

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

}  // namespace trib::raft
