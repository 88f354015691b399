// Magic 0/1 message sets (old producers' Produce v0-v2): read back exactly as written with
// each codec they allow, the LZ4 header checksum of magic 0 (KAFKA-3160) accepted, and
// damaged, truncated, nested or zstd input refused without a crash; and batches recompressed
// keep their records.
#include "model/legacy_messages.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace trib::model {
namespace {

// Rewrites the first message's CRC after a test changed its bytes on purpose.
void fix_first_crc(std::vector<uint8_t>& bytes) {
    uint32_t size =
        uint32_t{bytes[8]} << 24 | uint32_t{bytes[9]} << 16 | uint32_t{bytes[10]} << 8 | bytes[11];
    auto crc = static_cast<uint32_t>(::crc32(0, bytes.data() + 16, size - 4));
    for (int i = 0; i < 4; ++i)
        bytes[12 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
}

std::vector<record> sample(int64_t base_ts) {
    std::vector<record> out;
    for (int i = 0; i < 20; ++i) {
        record r;
        r.timestamp = base_ts + i;
        if (i % 3 != 0) r.key = std::vector<uint8_t>{uint8_t('k'), uint8_t(i)};
        if (i % 5 != 0) r.value = std::vector<uint8_t>(static_cast<size_t>(i) * 37, uint8_t(i));
        out.push_back(std::move(r));
    }
    return out;
}

class legacy_round_trip : public testing::TestWithParam<std::tuple<int, compression>> {};

TEST_P(legacy_round_trip, reads_back_what_an_old_producer_wrote) {
    auto [magic, codec] = GetParam();
    auto records = sample(1'700'000'000'000);
    auto bytes = write_legacy_messages(static_cast<int8_t>(magic), codec, records);
    ASSERT_TRUE(is_legacy_message_set(bytes));
    auto set = read_legacy_messages(bytes, size_t{1} << 20);
    ASSERT_TRUE(set.has_value()) << set.error().message();
    EXPECT_EQ(set->codec, codec);
    ASSERT_EQ(set->records.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        const auto& got = set->records[i];
        EXPECT_EQ(got.timestamp, magic == 0 ? -1 : records[i].timestamp);  // magic 0 has none
        EXPECT_EQ(got.key, records[i].key);
        EXPECT_EQ(got.value, records[i].value);
        EXPECT_EQ(got.offset_delta, static_cast<int32_t>(i));
    }
    // As one v2 batch, the way the broker stores it.
    batch_options o;
    o.codec = codec;
    auto batch = build_batch(o, set->records);
    ASSERT_TRUE(batch.has_value());
    auto h = verify_batch(*batch);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->record_count, 20);
    EXPECT_EQ(h->codec(), codec);
    // Every truncation and every flipped byte is refused or still well-formed, never a crash.
    for (size_t n = 0; n < bytes.size(); n += 7) {
        auto cut = read_legacy_messages(std::span(bytes).first(n), size_t{1} << 20);
        EXPECT_FALSE(cut.has_value() && cut->records.size() == records.size() && n < bytes.size());
    }
    for (size_t at = 0; at < bytes.size(); at += 11) {
        auto flipped = bytes;
        flipped[at] ^= 0x40;
        (void)read_legacy_messages(flipped, size_t{1} << 20);
    }
}

INSTANTIATE_TEST_SUITE_P(codecs, legacy_round_trip,
                         testing::Combine(testing::Values(0, 1),
                                          testing::Values(compression::none, compression::gzip,
                                                          compression::snappy, compression::lz4)));

TEST(legacy_messages, a_damaged_message_is_refused_by_its_crc) {
    auto bytes = write_legacy_messages(1, compression::none, sample(5));
    bytes[20] ^= 1;  // the first message's timestamp, under its CRC
    auto set = read_legacy_messages(bytes, size_t{1} << 20);
    ASSERT_FALSE(set.has_value());
    EXPECT_EQ(set.error(), errc::bad_crc);
}

TEST(legacy_messages, zstd_nested_wrappers_and_empty_sets_are_refused) {
    auto records = sample(5);
    // zstd came with magic 2: a magic 1 wrapper claiming it is refused.
    auto plain = write_legacy_messages(1, compression::gzip, records);
    auto zstd = plain;
    zstd[17] = static_cast<uint8_t>((zstd[17] & ~0x07) | 4);  // attributes of the wrapper
    fix_first_crc(zstd);
    auto refused = read_legacy_messages(zstd, size_t{1} << 20);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error(), errc::unsupported_compression);
    // A wrapper inside a wrapper.
    record wrapper;
    wrapper.value = compress(compression::gzip, plain).value();  // a gzip set of a gzip set
    auto nested = write_legacy_messages(1, compression::none, std::span(&wrapper, 1));
    nested[17] = static_cast<uint8_t>(compression::gzip);
    fix_first_crc(nested);
    auto inner = read_legacy_messages(nested, size_t{1} << 20);
    ASSERT_FALSE(inner.has_value());
    EXPECT_EQ(inner.error(), errc::bad_record);
    EXPECT_FALSE(read_legacy_messages({}, size_t{1} << 20).has_value());
    EXPECT_FALSE(is_legacy_message_set({}));
}

TEST(legacy_messages, decompression_is_bounded) {
    std::vector<record> big(1);
    big[0].value = std::vector<uint8_t>(size_t{1} << 20, 'x');  // compresses to almost nothing
    auto bytes = write_legacy_messages(1, compression::gzip, big);
    EXPECT_FALSE(read_legacy_messages(bytes, size_t{64} << 10).has_value());
}

TEST(recompress_batch, keeps_the_records_and_the_producer_fields) {
    batch_options o;
    o.codec = compression::gzip;
    o.producer_id = 7;
    o.producer_epoch = 2;
    o.base_sequence = 40;
    auto records = sample(1000);
    auto batch = build_batch(o, records);
    ASSERT_TRUE(batch.has_value());
    for (auto codec :
         {compression::none, compression::lz4, compression::zstd, compression::snappy}) {
        auto again = recompress_batch(*batch, codec, size_t{1} << 20);
        ASSERT_TRUE(again.has_value());
        auto h = verify_batch(*again);
        ASSERT_TRUE(h.has_value());
        EXPECT_EQ(h->codec(), codec);
        EXPECT_EQ(h->producer_id, 7);
        EXPECT_EQ(h->producer_epoch, 2);
        EXPECT_EQ(h->base_sequence, 40);
        EXPECT_EQ(h->record_count, 20);
        std::vector<record> got;
        ASSERT_TRUE(for_each_record(*again, size_t{1} << 20, [&](const record_view& r) {
                        got.push_back(owned_record(*h, r));
                    }).has_value());
        ASSERT_EQ(got.size(), records.size());
        for (size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].timestamp, records[i].timestamp);
            EXPECT_EQ(got[i].value, records[i].value);
        }
    }
}

}  // namespace
}  // namespace trib::model
