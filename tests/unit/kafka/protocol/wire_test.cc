// The primitive readers and writers: every way the bytes can be wrong is an error value.
#include "kafka/protocol/wire.h"

#include <gtest/gtest.h>

namespace trib::kafka::protocol {
namespace {

reader over(const bytes& b) {
    return reader(std::span<const uint8_t>(b));
}

TEST(wire, fixed_width_integers_are_big_endian) {
    writer w;
    w.write_int16(-2);
    w.write_int32(0x01020304);
    w.write_int64(-1);
    w.write_uint16(0xfffe);
    EXPECT_EQ(w.data(), (bytes{0xff, 0xfe, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xfe}));
    auto r = over(w.data());
    EXPECT_EQ(r.read_int16(), -2);
    EXPECT_EQ(r.read_int32(), 0x01020304);
    EXPECT_EQ(r.read_int64(), -1);
    EXPECT_EQ(r.read_uint16(), 0xfffe);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(wire, truncated_integer_is_reported_and_sticky) {
    bytes b{0x00, 0x01, 0x02};
    auto r = over(b);
    EXPECT_EQ(r.read_int32(), 0);
    EXPECT_EQ(r.error(), errc::truncated);
    EXPECT_EQ(r.read_int8(), 0);  // later reads return zero and keep the first error
    EXPECT_EQ(r.error(), errc::truncated);
}

TEST(wire, varints_round_trip_at_the_edges) {
    for (int32_t v : {0, 1, -1, 63, -64, 64, INT32_MAX, INT32_MIN}) {
        writer w;
        w.write_varint(v);
        auto r = over(w.data());
        EXPECT_EQ(r.read_varint(), v);
        EXPECT_TRUE(r.ok() && r.remaining() == 0) << v;
    }
    for (int64_t v : {int64_t{0}, int64_t{-1}, INT64_MAX, INT64_MIN}) {
        writer w;
        w.write_varlong(v);
        auto r = over(w.data());
        EXPECT_EQ(r.read_varlong(), v);
        EXPECT_TRUE(r.ok() && r.remaining() == 0) << v;
    }
    writer w;
    w.write_uvarint(UINT32_MAX);
    EXPECT_EQ(w.data(), (bytes{0xff, 0xff, 0xff, 0xff, 0x0f}));
}

TEST(wire, overlong_varints_are_rejected) {
    bytes six{0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    auto r = over(six);
    r.read_uvarint();
    EXPECT_EQ(r.error(), errc::varint_overflow);
    bytes too_big{0xff, 0xff, 0xff, 0xff, 0x1f};  // 35 bits
    auto r2 = over(too_big);
    r2.read_uvarint();
    EXPECT_EQ(r2.error(), errc::varint_overflow);
    bytes eleven(10, 0xff);
    eleven.push_back(0x01);
    auto r3 = over(eleven);
    r3.read_varlong();
    EXPECT_EQ(r3.error(), errc::varint_overflow);
    bytes unterminated{0x80, 0x80};
    auto r4 = over(unterminated);
    r4.read_uvarint();
    EXPECT_EQ(r4.error(), errc::truncated);
}

TEST(wire, strings_classic_and_compact) {
    writer w;
    w.write_string("kafka", false);
    w.write_string("kafka", true);
    w.write_nullable_string(std::nullopt, false);
    w.write_nullable_string(std::nullopt, true);
    EXPECT_EQ(w.data(),
              (bytes{0, 5, 'k', 'a', 'f', 'k', 'a', 6, 'k', 'a', 'f', 'k', 'a', 0xff, 0xff, 0}));
    auto r = over(w.data());
    EXPECT_EQ(r.read_string(false), "kafka");
    EXPECT_EQ(r.read_string(true), "kafka");
    EXPECT_EQ(r.read_nullable_string(false), std::nullopt);
    EXPECT_EQ(r.read_nullable_string(true), std::nullopt);
    EXPECT_TRUE(r.ok());
}

TEST(wire, null_where_not_allowed_is_rejected) {
    bytes classic_null{0xff, 0xff};
    auto r = over(classic_null);
    r.read_string(false);
    EXPECT_EQ(r.error(), errc::negative_length);
    bytes compact_null{0};
    auto r2 = over(compact_null);
    r2.read_bytes(true);
    EXPECT_EQ(r2.error(), errc::negative_length);
}

TEST(wire, bad_lengths_are_rejected) {
    bytes minus_two{0xff, 0xfe};
    auto r = over(minus_two);
    r.read_nullable_string(false);
    EXPECT_EQ(r.error(), errc::negative_length);

    bytes huge{0x7f, 0xff, 0xff, 0xff, 'x'};  // 2 GiB of bytes promised, one present
    auto r2 = over(huge);
    r2.read_bytes(false);
    EXPECT_EQ(r2.error(), errc::length_too_large);

    bytes off_by_one{0, 3, 'a', 'b'};
    auto r3 = over(off_by_one);
    r3.read_string(false);
    EXPECT_EQ(r3.error(), errc::length_too_large);
}

TEST(wire, array_count_beyond_input_fails_before_allocating) {
    bytes b{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    auto r = over(b);
    EXPECT_EQ(r.read_array_length(false, false, 4), 0);
    EXPECT_EQ(r.error(), errc::length_too_large);

    bytes compact{0xff, 0xff, 0xff, 0xff, 0x0f};  // count 2^32 - 2
    auto r2 = over(compact);
    r2.read_array_length(true, true, 1);
    EXPECT_FALSE(r2.ok());

    bytes null_array{0xff, 0xff, 0xff, 0xff};
    auto r3 = over(null_array);
    EXPECT_EQ(r3.read_array_length(false, true, 4), -1);
    EXPECT_TRUE(r3.ok());
    auto r4 = over(null_array);
    r4.read_array_length(false, false, 4);
    EXPECT_EQ(r4.error(), errc::negative_length);
}

TEST(wire, tagged_fields_merge_in_tag_order) {
    writer w;
    w.write_tagged_fields({{1, {0xaa}}, {5, {0xbb}}}, {{3, {0xcc}}});
    EXPECT_EQ(w.data(), (bytes{3, 1, 1, 0xaa, 3, 1, 0xcc, 5, 1, 0xbb}));
    writer dup;
    dup.write_tagged_fields({{3, {}}}, {{3, {}}});
    EXPECT_EQ(dup.error(), errc::tag_order);
}

TEST(wire, uuid_and_float64_round_trip) {
    uuid u;
    for (size_t i = 0; i < 16; ++i)
        u.value[i] = static_cast<uint8_t>(i * 17);
    writer w;
    w.write_uuid(u);
    w.write_float64(-0.125);
    auto r = over(w.data());
    EXPECT_EQ(r.read_uuid(), u);
    EXPECT_EQ(r.read_float64(), -0.125);
    EXPECT_TRUE(r.ok());
}

}  // namespace
}  // namespace trib::kafka::protocol
