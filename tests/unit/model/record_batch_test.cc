// The v2 record batch: batches from real clients (every codec) verify and yield their records;
// built batches round-trip; every truncation, corrupted byte and bad count is refused.
#include "model/record_batch.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "kafka/protocol/frame.h"
#include "kafka/protocol/produce.h"
#include "model/crc32c.h"
#include "unit/hex_file.h"

namespace trib::model {
namespace {

using bytes = std::vector<uint8_t>;
const std::filesystem::path golden_dir = TRIB_GOLDEN_DIR;

std::string text(std::span<const uint8_t> s) {
    return {s.begin(), s.end()};
}
bytes as_bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

bytes read_hex(const std::filesystem::path& path) {
    return test::read_hex_file(path);
}

// The records field of a captured Produce frame.
bytes produced_records(const std::filesystem::path& path) {
    bytes frame = read_hex(path);
    auto f = kafka::protocol::parse_request(frame);
    EXPECT_TRUE(f.has_value());
    auto m = kafka::protocol::decode<kafka::protocol::produce_request>(
        f->body, f->header.request_api_version);
    EXPECT_TRUE(m.has_value());
    return m->topic_data.at(0).partition_data.at(0).records.value();
}

struct seen_record {
    std::string key, value;
    int32_t offset_delta;
    size_t headers;
};

std::vector<seen_record> records_of(std::span<const uint8_t> batch) {
    std::vector<seen_record> out;
    auto st = for_each_record(batch, 1 << 20, [&](const record_view& r) {
        out.push_back({r.key ? text(*r.key) : "<null>", r.value ? text(*r.value) : "<null>",
                       r.offset_delta, r.headers.size()});
    });
    EXPECT_TRUE(st.has_value()) << st.error().message();
    return out;
}

TEST(record_batch, real_client_batches_in_every_codec) {
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(golden_dir)) {
        auto name = entry.path().filename().string();
        if (name.find("-Produce-") == std::string::npos) continue;
        SCOPED_TRACE(name);
        ++files;
        bytes records = produced_records(entry.path());
        batch_walker walk(records);
        auto h = walk.next();
        ASSERT_TRUE(h.has_value()) << h.error().message();
        ASSERT_TRUE(h->has_value());
        auto batch = walk.current();
        EXPECT_EQ(batch.size(), records.size()) << "exactly one batch";
        auto end = walk.next();
        ASSERT_TRUE(end.has_value());
        EXPECT_FALSE(end->has_value());

        compression expected = compression::none;
        for (auto c :
             {compression::gzip, compression::snappy, compression::lz4, compression::zstd}) {
            if (name.find(std::string("-") + compression_name(c) + "-") != std::string::npos) {
                expected = c;
            }
        }
        EXPECT_EQ((*h)->codec(), expected);
        auto recs = records_of(batch);
        ASSERT_EQ(static_cast<int32_t>(recs.size()), (*h)->record_count);
        EXPECT_EQ((*h)->last_offset_delta + 1, (*h)->record_count);
        for (size_t i = 0; i < recs.size(); ++i) {
            auto n = std::to_string(i + 1);
            EXPECT_EQ(recs[i].key, "key-" + n);
            // Compressed runs pad the value ("value-N-aaaa...") so that clients compress.
            EXPECT_EQ(recs[i].value, expected == compression::none
                                         ? "value-" + n
                                         : "value-" + n + "-" + std::string(500, 'a'));
            EXPECT_EQ(recs[i].offset_delta, static_cast<int32_t>(i));
        }
        if (expected == compression::none) {
            ASSERT_EQ(recs.size(), 1u);
            EXPECT_EQ(recs[0].headers, 1u);  // trace=abc
        } else {
            EXPECT_EQ(recs.size(), 3u);
        }
    }
    EXPECT_GE(files, 12u);  // 3 plain + 4 kcat + 4 kafka-python + 1 KafkaJS codecs
}

std::vector<record> three_records() {
    std::vector<record> out;
    for (int i = 0; i < 3; ++i) {
        record r;
        r.timestamp = 1'700'000'000'000 + i;
        r.key = as_bytes("k" + std::to_string(i));
        r.value = as_bytes(std::string(100, static_cast<char>('a' + i)));
        r.headers.push_back({"h", as_bytes("v")});
        out.push_back(r);
    }
    out[1].key.reset();    // null key
    out[2].value.reset();  // tombstone
    return out;
}

TEST(record_batch, built_batches_round_trip_in_every_codec) {
    for (auto c : {compression::none, compression::gzip, compression::snappy, compression::lz4,
                   compression::zstd}) {
        batch_options o;
        o.codec = c;
        o.base_offset = 1000;
        o.producer_id = 7;
        o.producer_epoch = 1;
        o.base_sequence = 5;
        auto batch = build_batch(o, three_records());
        ASSERT_TRUE(batch.has_value());
        auto h = verify_batch(*batch);
        ASSERT_TRUE(h.has_value()) << compression_name(c);
        EXPECT_EQ(h->codec(), c);
        EXPECT_EQ(h->base_offset, 1000);
        EXPECT_EQ(h->last_offset(), 1002);
        EXPECT_EQ(h->record_count, 3);
        EXPECT_EQ(h->producer_id, 7);
        EXPECT_EQ(h->base_sequence, 5);
        EXPECT_EQ(h->base_timestamp, 1'700'000'000'000);
        EXPECT_EQ(h->max_timestamp, 1'700'000'000'002);
        auto recs = records_of(*batch);
        ASSERT_EQ(recs.size(), 3u);
        EXPECT_EQ(recs[0].key, "k0");
        EXPECT_EQ(recs[1].key, "<null>");
        EXPECT_EQ(recs[2].value, "<null>");
        EXPECT_EQ(recs[2].headers, 1u);
    }
}

TEST(record_batch, offset_and_epoch_are_rewritten_outside_the_crc) {
    auto batch = build_batch({}, three_records());
    ASSERT_TRUE(batch.has_value());
    set_base_offset(*batch, 123456789);
    set_partition_leader_epoch(*batch, 42);
    auto h = verify_batch(*batch);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->base_offset, 123456789);
    EXPECT_EQ(h->partition_leader_epoch, 42);
}

TEST(record_batch, every_truncation_is_refused_and_a_cut_tail_ends_a_walk) {
    auto batch = *build_batch({}, three_records());
    for (size_t n = 0; n < batch.size(); ++n) {
        auto prefix = std::span<const uint8_t>(batch).first(n);
        auto h = verify_batch(prefix);
        ASSERT_FALSE(h.has_value()) << n;
        EXPECT_EQ(h.error(), errc::truncated) << n;
        bytes two = batch;
        two.insert(two.end(), prefix.begin(), prefix.end());
        batch_walker walk(two);
        auto first = walk.next();
        ASSERT_TRUE(first.has_value() && first->has_value());
        auto second = walk.next();
        ASSERT_TRUE(second.has_value());
        EXPECT_FALSE(second->has_value());
        EXPECT_EQ(walk.truncated_tail(), n > 0);
        EXPECT_EQ(walk.position(), batch.size());
    }
}

TEST(record_batch, every_flipped_byte_under_the_crc_is_detected) {
    auto batch = *build_batch({}, three_records());
    for (size_t i = batch_crc_start; i < batch.size(); ++i) {
        bytes bad = batch;
        bad[i] ^= 0x01;
        auto h = verify_batch(bad);
        ASSERT_FALSE(h.has_value()) << i;
    }
    bytes bad_crc = batch;
    bad_crc[17] ^= 0x80;
    EXPECT_EQ(verify_batch(bad_crc).error(), errc::bad_crc);
}

TEST(record_batch, header_checks) {
    auto batch = *build_batch({}, three_records());
    auto with = [&](size_t at, uint8_t v) {
        bytes b = batch;
        b[at] = v;
        return parse_batch_header(b);
    };
    EXPECT_EQ(with(16, 1).error(), errc::bad_magic);
    EXPECT_EQ(with(8, 0x80).error(), errc::bad_length);  // negative batchLength
    bytes short_length = batch;
    short_length[9] = short_length[10] = 0;
    short_length[11] = 48;  // one byte less than the header after batchLength
    EXPECT_EQ(parse_batch_header(short_length).error(), errc::bad_length);
    EXPECT_EQ(with(9, 0x10).error(), errc::truncated);  // claims more than there is
    EXPECT_EQ(with(22, 0x07).error(), errc::unsupported_compression);
    EXPECT_EQ(with(57, 0x80).error(), errc::bad_record_count);  // negative count
    EXPECT_EQ(with(60, 9).error(), errc::bad_record_count);     // more than lastOffsetDelta + 1
}

// Re-signs a batch after editing it, so checks behind the CRC can be reached.
void resign(bytes& b) {
    uint32_t crc = crc32c(std::span<const uint8_t>(b).subspan(batch_crc_start));
    for (int i = 0; i < 4; ++i)
        b[17 + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (24 - 8 * i));
}

TEST(record_batch, records_that_do_not_fit_are_refused) {
    auto batch = *build_batch({}, three_records());
    bytes fewer = batch;
    fewer[60] = 2;  // claims 2 records, holds 3
    resign(fewer);
    ASSERT_TRUE(verify_batch(fewer).has_value());
    EXPECT_FALSE(for_each_record(fewer, 1 << 20, [](const record_view&) {}).has_value());
    // Every byte of the records section set to a hostile value: never a crash.
    for (size_t i = batch_header_size; i < batch.size(); ++i) {
        for (uint8_t v : {uint8_t{0x00}, uint8_t{0x7f}, uint8_t{0xff}}) {
            bytes bad = batch;
            bad[i] = v;
            resign(bad);
            (void)for_each_record(bad, 1 << 20, [](const record_view&) {});
        }
    }
}

TEST(record_batch, compressed_records_obey_the_size_limit) {
    std::vector<record> big(1);
    big[0].value = bytes(1 << 20, 0);
    batch_options o;
    o.codec = compression::zstd;
    auto batch = *build_batch(o, big);
    EXPECT_LT(batch.size(), 2000u);
    auto st = for_each_record(batch, 64 * 1024, [](const record_view&) {});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error(), errc::decompressed_too_large);
}

}  // namespace
}  // namespace trib::model
