// Big-endian integers in byte buffers: the byte order of the Kafka protocol, record batches
// and our index files. The caller guarantees `width` bytes at `p`.
#pragma once

#include <cstdint>

namespace trib::big_endian {

inline uint64_t load(const uint8_t* p, int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; ++i)
        v = (v << 8) | p[i];
    return v;
}

inline void store(uint8_t* p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

}  // namespace trib::big_endian
