// The node-to-node codec's and the Raft store's fields: base/byte_io.h plus batch bytes
// (a u32 length, 0xffffffff for none).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/byte_io.h"
#include "raft/core/types.h"

namespace trib::raft {

constexpr uint32_t null_length = 0xffffffff;  // a length field of absent bytes

// The generic fields come from base; Raft adds its shared batch bytes.
class writer : public byte_writer {
  public:
    explicit writer(std::vector<uint8_t>& out) : byte_writer(out) {}
    void bytes(const batch_bytes& b) {
        if (!b) {
            u32(null_length);
            return;
        }
        u32(static_cast<uint32_t>(b->size()));
        raw(*b);
    }
};

class reader : public byte_reader {
  public:
    explicit reader(std::span<const uint8_t> in) : byte_reader(in) {}
    batch_bytes bytes() {
        uint32_t n = u32();
        if (!ok() || n == null_length) {
            return nullptr;
        }
        auto from = raw(n);
        if (!ok()) {
            return nullptr;
        }
        return std::make_shared<const std::vector<uint8_t>>(from.begin(), from.end());
    }
};

}  // namespace trib::raft
