// Log compaction: newest record per key, offsets kept, tombstones expire, compressed batches
// rebuilt with their codec, reopen after compaction, an interrupted swap finished at open,
// appends running while compaction does.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "storage/log.h"
#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

namespace fs = std::filesystem;
using test::temp_dir;

struct stored_record {
    int64_t offset;
    std::string key;
    std::optional<std::string> value;
    friend bool operator==(const stored_record&, const stored_record&) = default;
};

log_config compacted_config() {
    log_config c;
    c.segment_bytes = 1024;
    c.index_interval_bytes = 256;
    c.cleanup_compact = true;
    c.cleanup_delete = false;
    c.delete_retention_ms = 1000;
    return c;
}

std::vector<uint8_t> keyed_batch(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& kv, int64_t ts,
    model::compression codec = model::compression::none) {
    std::vector<model::record> rs;
    for (const auto& [k, v] : kv) {
        model::record r;
        r.timestamp = ts;
        r.key.emplace(k.begin(), k.end());
        if (v) r.value.emplace(v->begin(), v->end());
        r.headers.emplace_back("h", std::vector<uint8_t>{'x'});
        rs.push_back(std::move(r));
    }
    model::batch_options o;
    o.codec = codec;
    return model::build_batch(o, rs).value();
}

std::vector<stored_record> read_all(const log& l,
                                    std::vector<model::compression>* codecs = nullptr) {
    std::vector<stored_record> out;
    auto r = l.read(l.start_offset(), size_t{1} << 30);
    EXPECT_TRUE(r.has_value());
    if (!r) return out;
    model::batch_walker walk(r->data);
    for (;;) {
        auto h = walk.next();
        EXPECT_TRUE(h.has_value());
        if (!h || !*h) break;
        if (codecs) codecs->push_back((*h)->codec());
        auto st = model::for_each_record(walk.current(), size_t{1} << 26, [&](const auto& rec) {
            stored_record s{(*h)->base_offset + rec.offset_delta,
                            std::string(rec.key->begin(), rec.key->end()), std::nullopt};
            if (rec.value) s.value.emplace(rec.value->begin(), rec.value->end());
            out.push_back(std::move(s));
        });
        EXPECT_TRUE(st.has_value());
    }
    return out;
}

// What compaction must leave: every record at or after `cleanable_end`, and below it only the
// newest record of each key among those below it (tombstones only if `keep_tombstones`).
std::vector<stored_record> expected_after(const std::vector<stored_record>& all,
                                          int64_t cleanable_end, bool keep_tombstones) {
    std::map<std::string, int64_t> newest;
    for (const auto& r : all) {
        if (r.offset < cleanable_end) newest[r.key] = r.offset;
    }
    std::vector<stored_record> out;
    for (const auto& r : all) {
        bool cleaned = r.offset < cleanable_end;
        if (cleaned && newest[r.key] != r.offset) continue;
        if (cleaned && !r.value && !keep_tombstones) continue;
        out.push_back(r);
    }
    return out;
}

// Twenty keys written over and over, with every codec, and some tombstones.
void write_history(log& l, int64_t ts, int rounds = 30) {
    const model::compression codecs[] = {model::compression::none, model::compression::gzip,
                                         model::compression::snappy, model::compression::lz4,
                                         model::compression::zstd};
    for (int round = 0; round < rounds; ++round) {
        std::vector<std::pair<std::string, std::optional<std::string>>> kv;
        for (int k = 0; k < 20; k += 1 + round % 3) {
            std::optional<std::string> value =
                "round" + std::to_string(round) + std::string(30, 'v');
            if ((k + round) % 7 == 0) value.reset();  // a tombstone
            kv.emplace_back("key" + std::to_string(k), value);
        }
        auto b = keyed_batch(kv, ts, codecs[round % 5]);
        ASSERT_TRUE(l.append(b, ts).has_value());
    }
}

int64_t active_base(const log& l) {
    // The active segment's base: the cleanable end. Segments are named by base offset.
    auto bases = segment::list_bases(l.dir()).value();
    return bases.back();
}

TEST(compaction, keeps_the_newest_record_of_each_key_with_offsets_and_codecs) {
    temp_dir dir;
    auto l = log::open(dir.path(), compacted_config()).value();
    write_history(*l, 5000);
    ASSERT_GT(l->segment_count(), 3u);
    auto before = read_all(*l);
    int64_t end = l->end_offset();
    int64_t cleanable = active_base(*l);
    uint64_t size_before = l->size_bytes();

    auto stats = l->compact(5000);  // tombstones are fresh: they stay
    ASSERT_TRUE(stats.has_value()) << stats.error().message();
    EXPECT_GT(stats->records_removed, 0u);
    EXPECT_LT(l->size_bytes(), size_before);
    std::vector<model::compression> codecs;
    EXPECT_EQ(read_all(*l, &codecs), expected_after(before, cleanable, true));
    EXPECT_EQ(l->end_offset(), end);
    // Rebuilt batches keep their codec: all five still appear.
    for (auto c : {model::compression::gzip, model::compression::snappy, model::compression::lz4,
                   model::compression::zstd}) {
        EXPECT_NE(std::find(codecs.begin(), codecs.end(), c), codecs.end())
            << model::compression_name(c);
    }
    // A second pass removes nothing more, but merges the now small neighbours.
    size_t segments = l->segment_count();
    auto again = l->compact(5000);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->records_removed, 0u);
    EXPECT_LT(again->segments_out, again->segments_in);
    EXPECT_LT(l->segment_count(), segments);
    EXPECT_EQ(read_all(*l), expected_after(before, cleanable, true));
}

TEST(compaction, tombstones_go_once_delete_retention_has_passed) {
    temp_dir dir;
    auto l = log::open(dir.path(), compacted_config()).value();
    write_history(*l, 5000);
    auto before = read_all(*l);
    int64_t cleanable = active_base(*l);
    ASSERT_TRUE(l->compact(5000 + 999).has_value());
    EXPECT_EQ(read_all(*l), expected_after(before, cleanable, true));
    ASSERT_TRUE(l->compact(5000 + 1001).has_value());
    EXPECT_EQ(read_all(*l), expected_after(before, cleanable, false));
}

TEST(compaction, compacted_log_reopens_and_keeps_appending) {
    temp_dir dir;
    std::vector<stored_record> after;
    int64_t end = 0;
    {
        auto l = log::open(dir.path(), compacted_config()).value();
        write_history(*l, 5000);
        ASSERT_TRUE(l->compact(5000).has_value());
        after = read_all(*l);
        end = l->end_offset();
        ASSERT_TRUE(l->flush().has_value());
    }
    auto l = log::open(dir.path(), compacted_config()).value();
    EXPECT_EQ(read_all(*l), after);
    EXPECT_EQ(l->end_offset(), end);
    auto b = keyed_batch({{"key1", "after reopen"}}, 9000);
    auto appended = l->append(b, 9000);
    ASSERT_TRUE(appended.has_value());
    EXPECT_EQ(appended->base_offset, end);
    // Reading from an offset compaction removed starts at the next surviving record.
    auto from_gap = l->read(after.front().offset + 1, 1 << 20);
    ASSERT_TRUE(from_gap.has_value());
}

TEST(compaction, does_nothing_without_the_compact_policy) {
    temp_dir dir;
    auto c = compacted_config();
    c.cleanup_compact = false;
    c.cleanup_delete = true;
    auto l = log::open(dir.path(), c).value();
    write_history(*l, 5000);
    auto before = read_all(*l);
    auto stats = l->compact(5000);
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->segments_in, 0u);
    EXPECT_EQ(read_all(*l), before);
}

TEST(compaction, stops_at_the_cleanable_offset) {
    temp_dir dir;
    auto l = log::open(dir.path(), compacted_config()).value();
    write_history(*l, 5000);
    auto before = read_all(*l);
    auto bases = segment::list_bases(l->dir()).value();
    ASSERT_GE(bases.size(), 3u);
    // Only segments wholly below the high watermark may be cleaned.
    int64_t high_watermark = bases[2];
    ASSERT_TRUE(l->compact(5000, high_watermark).has_value());
    EXPECT_EQ(read_all(*l), expected_after(before, high_watermark, true));
}

TEST(compaction, an_interrupted_swap_is_finished_when_the_log_opens) {
    temp_dir compacted_dir;
    temp_dir crashed_dir;
    auto cfg = compacted_config();
    auto a = log::open(compacted_dir.path(), cfg).value();
    auto b = log::open(crashed_dir.path(), cfg).value();
    write_history(*a, 5000);
    write_history(*b, 5000);
    auto old_bases = segment::list_bases(b->dir()).value();
    ASSERT_TRUE(a->compact(5000).has_value());
    auto new_bases = segment::list_bases(a->dir()).value();
    ASSERT_GE(new_bases.size(), 2u);
    auto compacted = read_all(*a);
    b.reset();

    // The first group's output replaced every old segment in [base, limit), limit being the
    // next group's base. The crash came after that swap directory was committed and one old
    // file was removed.
    int64_t base = new_bases[0];
    int64_t limit = new_bases[1];
    auto swap = crashed_dir.path() / fmt::format(".swap-{:020d}-{:020d}", base, limit);
    fs::create_directory(swap);
    fs::copy_file(compacted_dir.path() / segment::file_name(base, ".log"),
                  swap / segment::file_name(base, ".log"));
    fs::remove(crashed_dir.path() / segment::file_name(old_bases[0], ".index"));
    fs::create_directory(crashed_dir.path() / ".cleaning");  // a pass cut short: discarded
    std::ofstream(crashed_dir.path() / ".cleaning" / "garbage.log") << "partial";

    auto reopened = log::open(crashed_dir.path(), cfg).value();
    EXPECT_FALSE(fs::exists(swap));
    EXPECT_FALSE(fs::exists(crashed_dir.path() / ".cleaning"));
    auto got = read_all(*reopened);
    std::vector<stored_record> got_range;
    std::vector<stored_record> want_range;
    for (const auto& r : got) {
        if (r.offset < limit) got_range.push_back(r);
    }
    for (const auto& r : compacted) {
        if (r.offset < limit) want_range.push_back(r);
    }
    EXPECT_EQ(got_range, want_range);
    EXPECT_EQ(reopened->end_offset(), a->end_offset());
}

TEST(compaction, appends_and_reads_continue_while_compaction_runs) {
    temp_dir dir;
    auto l = log::open(dir.path(), compacted_config()).value();
    std::atomic<bool> done{false};
    std::map<std::string, std::string> last_value;
    std::thread writer([&] {
        for (int i = 0; i < 600; ++i) {
            auto key = "key" + std::to_string(i % 25);
            auto value = "v" + std::to_string(i) + std::string(40, 'p');
            auto b = keyed_batch({{key, value}}, 5000 + i);
            ASSERT_TRUE(l->append(b, 5000 + i).has_value());
            last_value[key] = value;
        }
        done = true;
    });
    int passes = 0;
    while (!done) {
        auto stats = l->compact(5000);
        ASSERT_TRUE(stats.has_value()) << stats.error().message();
        ASSERT_TRUE(l->read(l->start_offset(), 1 << 20).has_value());
        ++passes;
    }
    writer.join();
    ASSERT_TRUE(l->compact(5000).has_value());
    EXPECT_GT(passes, 0);
    std::map<std::string, std::string> seen;
    int64_t previous = -1;
    for (const auto& r : read_all(*l)) {
        EXPECT_GT(r.offset, previous);
        previous = r.offset;
        seen[r.key] = *r.value;
    }
    EXPECT_EQ(seen, last_value);
    EXPECT_EQ(l->end_offset(), 600);
}

}  // namespace
}  // namespace trib::storage

namespace trib::storage {
namespace {

std::vector<uint8_t> producer_batch(int64_t producer_id, int32_t sequence, const std::string& key,
                                    int64_t ts) {
    model::record r;
    r.timestamp = ts;
    r.key.emplace(key.begin(), key.end());
    r.value.emplace(200, 'p');
    model::batch_options o;
    o.producer_id = producer_id;
    o.producer_epoch = 0;
    o.base_sequence = sequence;
    std::vector<model::record> rs{r};
    return model::build_batch(o, rs).value();
}

TEST(compaction, keeps_an_emptied_last_batch_of_each_idempotent_producer) {
    temp_dir dir;
    auto l = log::open(dir.path(), compacted_config()).value();
    // Producer 7 writes keys a0..a3, producer 8 writes b0..b3; then a plain producer
    // overwrites every one of those keys, so all their records become obsolete.
    for (int i = 0; i < 4; ++i) {
        auto a = producer_batch(7, i, "a" + std::to_string(i), 5000);
        ASSERT_TRUE(l->append(a, 5000).has_value());
        auto b = producer_batch(8, i, "b" + std::to_string(i), 5000);
        ASSERT_TRUE(l->append(b, 5000).has_value());
    }
    for (int round = 0; round < 6; ++round) {
        std::vector<std::pair<std::string, std::optional<std::string>>> kv;
        for (int i = 0; i < 4; ++i) {
            kv.emplace_back("a" + std::to_string(i), std::string(100, 'n'));
            kv.emplace_back("b" + std::to_string(i), std::string(100, 'n'));
        }
        auto plain = keyed_batch(kv, 5000);
        ASSERT_TRUE(l->append(plain, 5000).has_value());
    }
    ASSERT_TRUE(l->compact(5000).has_value());
    // Exactly one batch per producer is left, empty, and it is the producer's last (sequence 3).
    std::map<int64_t, std::vector<model::batch_header>> left;
    ASSERT_TRUE(l->for_each_batch_header([&](const model::batch_header& h) {
                     if (h.producer_id >= 0) left[h.producer_id].push_back(h);
                 }).has_value());
    ASSERT_EQ(left.size(), 2U);
    for (const auto& [pid, headers] : left) {
        ASSERT_EQ(headers.size(), 1U) << pid;
        EXPECT_EQ(headers[0].record_count, 0) << pid;
        EXPECT_EQ(headers[0].base_sequence, 3) << pid;
        EXPECT_EQ(headers[0].last_offset_delta, 0) << pid;
        EXPECT_EQ(headers[0].max_timestamp, 5000) << pid;  // the producer's time, kept
    }
    // Reading over it works: the survivors are the plain producer's records.
    for (const auto& r : read_all(*l))
        EXPECT_EQ(r.value->front(), 'n') << r.offset;
}

// A Raft log: a batch compaction empties stays as a header with its offsets and epoch, so
// batches still cover every offset and a follower can be sent any range.
TEST(compaction, a_log_that_keeps_emptied_batches_leaves_no_offset_uncovered) {
    temp_dir dir;
    auto l = log::open(dir.path(), compacted_config()).value();
    l->keep_emptied_batches();
    std::vector<std::pair<int64_t, int64_t>> before;  // base, last of every batch
    write_history(*l, 5000);
    ASSERT_TRUE(l->for_each_batch_header([&](const model::batch_header& h) {
                     before.emplace_back(h.base_offset, h.base_offset + h.last_offset_delta);
                 }).has_value());
    auto records_before = read_all(*l);
    int64_t cleanable = active_base(*l);
    auto stats = l->compact(5000);
    ASSERT_TRUE(stats.has_value());
    ASSERT_GT(stats->records_removed, 0u);
    std::vector<std::pair<int64_t, int64_t>> after;
    int emptied = 0;
    ASSERT_TRUE(l->for_each_batch_header([&](const model::batch_header& h) {
                     after.emplace_back(h.base_offset, h.base_offset + h.last_offset_delta);
                     if (h.record_count == 0) ++emptied;
                 }).has_value());
    EXPECT_EQ(after, before);
    EXPECT_GT(emptied, 0);
    EXPECT_EQ(read_all(*l), expected_after(records_before, cleanable, true));
}

}  // namespace
}  // namespace trib::storage
