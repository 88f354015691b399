#include "model/crc32c.h"

#include <array>
#include <cstring>

namespace trib::model {

namespace {

constexpr uint32_t reflected_polynomial = 0x82F63B78;

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables() {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int i = 0; i < 8; ++i)
            c = (c >> 1) ^ ((c & 1) ? reflected_polynomial : 0);
        t[0][b] = c;
    }
    for (size_t k = 1; k < 8; ++k) {
        for (size_t b = 0; b < 256; ++b)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
    return t;
}
constexpr auto tables = make_tables();

uint32_t portable_raw(const uint8_t* p, size_t n, uint32_t c) {
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);  // little-endian host (x86-64)
        word ^= c;
        c = tables[7][word & 0xff] ^ tables[6][(word >> 8) & 0xff] ^
            tables[5][(word >> 16) & 0xff] ^ tables[4][(word >> 24) & 0xff] ^
            tables[3][(word >> 32) & 0xff] ^ tables[2][(word >> 40) & 0xff] ^
            tables[1][(word >> 48) & 0xff] ^ tables[0][word >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = (c >> 8) ^ tables[0][(c ^ *p++) & 0xff];
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t sse42_raw(const uint8_t* p, size_t n, uint32_t c) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        c64 = __builtin_ia32_crc32di(c64, word);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<uint32_t>(c64);
    while (n-- > 0)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

const bool has_sse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c_portable(std::span<const uint8_t> data, uint32_t crc) {
    return ~portable_raw(data.data(), data.size(), ~crc);
}

uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc) {
#if defined(__x86_64__)
    if (has_sse42) return ~sse42_raw(data.data(), data.size(), ~crc);
#endif
    return crc32c_portable(data, crc);
}

}  // namespace trib::model
