// CRC-32C: the published check value, agreement between the SSE4.2 and portable versions on
// every length and alignment, and incremental use.
#include "model/crc32c.h"

#include <numeric>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace trib::model {
namespace {

std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(crc32c, check_value) {
    EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32c_portable(as_bytes("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32c({}), 0u);
}

TEST(crc32c, hardware_and_portable_agree_on_every_length_and_alignment) {
    std::vector<uint8_t> data(300);
    std::iota(data.begin(), data.end(), uint8_t{7});
    for (size_t start = 0; start < 8; ++start) {
        for (size_t n = 0; start + n <= data.size(); n += 13) {
            auto s = std::span<const uint8_t>(data).subspan(start, n);
            ASSERT_EQ(crc32c(s), crc32c_portable(s)) << start << " " << n;
        }
    }
}

TEST(crc32c, extends_incrementally) {
    auto all = as_bytes("the quick brown fox jumps over the lazy dog");
    for (size_t cut = 0; cut <= all.size(); ++cut) {
        EXPECT_EQ(crc32c(all.subspan(cut), crc32c(all.first(cut))), crc32c(all));
    }
}

}  // namespace
}  // namespace trib::model
