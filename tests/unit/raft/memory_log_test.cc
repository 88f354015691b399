// memory_log: the stable_log answers as documented, and it fails like a disk: unsynced writes
// are lost in a crash (a prefix of them may land), and a torn append is dropped on recovery.
#include "raft/core/memory_log.h"

#include <gtest/gtest.h>

#include "unit/raft/harness.h"

namespace trib::raft {
namespace {

using test::config_entry;
using test::data_entry;

const configuration three{{1, 2, 3}};

void write(memory_log& disk, std::vector<entry> entries,
           std::optional<hard_state> hs = std::nullopt) {
    ready rd;
    rd.hard_state = hs;
    rd.entries = std::move(entries);
    disk.write(rd);
}

void expect_position(const memory_log& disk, offset_t at, entry_position want) {
    auto p = disk.position_of(at);
    ASSERT_TRUE(p.has_value()) << "offset " << at;
    EXPECT_EQ(p->base_offset, want.base_offset) << "offset " << at;
    EXPECT_EQ(p->last_offset, want.last_offset) << "offset " << at;
    EXPECT_EQ(p->term, want.term) << "offset " << at;
}

bool out_of_range(const memory_log& disk, offset_t at) {
    auto p = disk.position_of(at);
    return !p && p.error() == make_error_code(errc::offset_out_of_range);
}

TEST(memory_log, fresh_log_answers_its_bootstrap_snapshot) {
    memory_log disk(three);
    EXPECT_EQ(disk.snapshot().last_offset, -1);
    EXPECT_EQ(disk.snapshot().last_term, 0);
    EXPECT_EQ(disk.snapshot().config, three);
    EXPECT_EQ(disk.last_offset(), -1);
    expect_position(disk, -1, {-1, -1, 0});
    EXPECT_TRUE(out_of_range(disk, 0));
    EXPECT_FALSE(disk.entries(0, 10, 1 << 20).has_value());
    EXPECT_TRUE(disk.configs().empty());
    EXPECT_EQ(disk.state(), hard_state{});
    EXPECT_FALSE(disk.has_unsynced());
}

TEST(memory_log, positions_and_entries_answer_by_batch) {
    memory_log disk(three);
    // [0..2] term 1 (three records), [3] term 1, [4..5] term 2.
    write(disk, {data_entry(0, 1, 3), data_entry(3, 1), data_entry(4, 2, 2)});
    EXPECT_EQ(disk.last_offset(), 5);
    expect_position(disk, 0, {0, 2, 1});
    expect_position(disk, 1, {0, 2, 1});  // inside a batch: the batch holding it
    expect_position(disk, 3, {3, 3, 1});
    expect_position(disk, 5, {4, 5, 2});
    EXPECT_TRUE(out_of_range(disk, 6));
    EXPECT_TRUE(out_of_range(disk, -2));

    auto all = disk.entries(0, 5, 1 << 20);
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(test::shape(*all), test::shape(disk.all_entries()));
    // `last` bounds by whole entries: [4..5] does not fit under 4.
    auto upto4 = disk.entries(0, 4, 1 << 20);
    ASSERT_TRUE(upto4.has_value());
    EXPECT_EQ(upto4->size(), 2u);
    // max_bytes stops before it would be passed, but always gives one entry.
    auto one = disk.entries(3, 5, 1);
    ASSERT_TRUE(one.has_value());
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ(one->front().base_offset, 3);
    size_t two_bytes = disk.all_entries()[0].size() + disk.all_entries()[1].size();
    auto two = disk.entries(0, 5, two_bytes);
    ASSERT_TRUE(two.has_value());
    EXPECT_EQ(two->size(), 2u);
    EXPECT_FALSE(disk.entries(6, 9, 1 << 20).has_value());
}

TEST(memory_log, a_write_inside_the_log_truncates_the_suffix) {
    memory_log disk(three);
    write(disk, {data_entry(0, 1), data_entry(1, 1), data_entry(2, 1)});
    write(disk, {data_entry(1, 2)});
    EXPECT_EQ(disk.last_offset(), 1);
    expect_position(disk, 1, {1, 1, 2});
    EXPECT_TRUE(out_of_range(disk, 2));
}

TEST(memory_log, configs_lists_config_entries_in_order) {
    memory_log disk(three);
    write(disk, {data_entry(0, 1), config_entry(1, 1, configuration{{1, 2}}), data_entry(2, 1),
                 config_entry(3, 2, configuration{{1, 2, 4}})});
    auto cs = disk.configs();
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[0].first, 1);
    EXPECT_EQ(cs[0].second, (configuration{{1, 2}}));
    EXPECT_EQ(cs[1].first, 3);
    EXPECT_EQ(cs[1].second, (configuration{{1, 2, 4}}));
    // Truncation takes the later config away.
    write(disk, {data_entry(2, 3)});
    EXPECT_EQ(disk.configs().size(), 1u);
}

TEST(memory_log, crash_loses_unsynced_writes) {
    memory_log disk(three);
    write(disk, {data_entry(0, 1)}, hard_state{1, 1});
    disk.sync();
    write(disk, {data_entry(1, 2)}, hard_state{2, 3});
    EXPECT_TRUE(disk.has_unsynced());
    // Reads see unsynced writes before the crash...
    EXPECT_EQ(disk.last_offset(), 1);
    EXPECT_EQ(disk.state(), (hard_state{2, 3}));
    disk.crash(0, false);  // seed 0: none of them reached the disk
    // ...and not after it.
    EXPECT_FALSE(disk.has_unsynced());
    EXPECT_EQ(disk.last_offset(), 0);
    EXPECT_EQ(disk.state(), (hard_state{1, 1}));
    expect_position(disk, 0, {0, 0, 1});
}

TEST(memory_log, crash_keeps_an_in_order_prefix_of_unsynced_writes) {
    // One ready of three entries is four writes: the truncation and three appends. Seed s
    // lets s % 5 of them land.
    for (uint64_t seed = 0; seed < 10; ++seed) {
        memory_log disk(three);
        write(disk, {data_entry(0, 1), data_entry(1, 1), data_entry(2, 1)});
        disk.crash(seed, false);
        auto landed = static_cast<offset_t>(seed % 5);
        EXPECT_EQ(disk.last_offset(), landed == 0 ? -1 : landed - 2) << "seed " << seed;
    }
}

TEST(memory_log, torn_append_is_dropped_on_recovery) {
    for (uint64_t seed = 1; seed < 4; ++seed) {
        memory_log disk(three);
        write(disk, {data_entry(0, 1)});
        disk.sync();
        write(disk, {data_entry(1, 1), data_entry(2, 1), data_entry(3, 1)});
        // Seed s: the truncation and s - 1 appends land whole; the next is torn.
        disk.crash(seed, true);
        EXPECT_EQ(disk.last_offset(), static_cast<offset_t>(seed) - 1) << "seed " << seed;
        for (const entry& e : disk.all_entries()) {
            EXPECT_TRUE(model::verify_batch(e.bytes()).has_value());
        }
        // The log takes appends again where it ends.
        write(disk, {data_entry(disk.last_offset() + 1, 2)});
        disk.sync();
        EXPECT_EQ(disk.last_offset(), static_cast<offset_t>(seed));
    }
}

TEST(memory_log, compact_drops_the_prefix_and_answers_the_snapshot_position) {
    memory_log disk(three);
    write(disk, {data_entry(0, 1, 2), data_entry(2, 1), data_entry(3, 2)});
    disk.sync();
    disk.compact(snapshot{.last_offset = 2, .last_term = 1, .config = three});
    EXPECT_EQ(disk.snapshot().last_offset, 2);
    EXPECT_EQ(disk.last_offset(), 3);
    expect_position(disk, 2, {2, 2, 1});
    EXPECT_TRUE(out_of_range(disk, 1));
    EXPECT_FALSE(disk.entries(0, 3, 1 << 20).has_value());
    auto rest = disk.entries(3, 3, 1 << 20);
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(rest->size(), 1u);
    // A compaction that was not synced is lost in a crash.
    disk.sync();
    disk.compact(snapshot{.last_offset = 3, .last_term = 2, .config = three});
    disk.crash(0, false);
    EXPECT_EQ(disk.snapshot().last_offset, 2);
    // An older snapshot never moves the log start back.
    disk.compact(snapshot{.last_offset = 0, .last_term = 1, .config = three});
    EXPECT_EQ(disk.snapshot().last_offset, 2);
}

TEST(memory_log, installed_snapshot_replaces_the_log) {
    memory_log disk(three);
    write(disk, {data_entry(0, 1), data_entry(1, 1)});
    ready rd;
    rd.snapshot = snapshot{.last_offset = 10, .last_term = 3, .config = configuration{{1, 2}}};
    rd.entries = {data_entry(11, 3)};
    disk.write(rd);
    disk.sync();
    EXPECT_EQ(disk.snapshot().last_offset, 10);
    EXPECT_EQ(disk.snapshot().config, (configuration{{1, 2}}));
    ASSERT_EQ(disk.all_entries().size(), 1u);
    EXPECT_EQ(disk.last_offset(), 11);
    expect_position(disk, 10, {10, 10, 3});
    EXPECT_TRUE(out_of_range(disk, 1));
}

}  // namespace
}  // namespace trib::raft
