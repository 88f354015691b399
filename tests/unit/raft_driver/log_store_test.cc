// The Raft store on the storage engine: what a ready writes survives a reopen (entries,
// terms, config entries, term and vote, snapshots), truncation of a divergent suffix, and
// corrupt state files are refused with a message.
#include "raft/log_store.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "model/crc32c.h"
#include "model/record_batch.h"

namespace trib::raft {
namespace {
namespace fs = std::filesystem;

struct temp_dir {
    fs::path path =
        fs::temp_directory_path() / ("trib-raft-store-" + std::to_string(std::random_device{}()));
    ~temp_dir() { fs::remove_all(path); }
};

entry data_entry(offset_t base, term_t term, int records = 1) {
    std::vector<model::record> rs(static_cast<size_t>(records));
    for (auto& r : rs) {
        r.value = std::vector<uint8_t>{1, 2, 3};
    }
    auto bytes =
        model::build_batch(
            {.base_offset = base, .partition_leader_epoch = static_cast<int32_t>(term)}, rs)
            .value();
    return entry_from_batch(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))).value();
}

entry config_entry(offset_t base, term_t term, configuration c) {
    auto bytes = make_config_batch(c, 0);
    model::set_base_offset(bytes, base);
    model::set_partition_leader_epoch(bytes, static_cast<int32_t>(term));
    return entry_from_batch(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))).value();
}

std::unique_ptr<log_store> open(const temp_dir& d) {
    auto s = log_store::open(d.path, configuration{{1, 2, 3}}, storage::log_config{});
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return std::move(*s);
}

TEST(log_store, a_new_store_starts_at_its_bootstrap_configuration) {
    temp_dir d;
    auto s = open(d);
    EXPECT_EQ(s->last_offset(), -1);
    EXPECT_EQ(s->snapshot().config, (configuration{{1, 2, 3}}));
    EXPECT_EQ(s->state(), hard_state{});
    EXPECT_EQ(s->position_of(-1).value().term, 0);
}

TEST(log_store, writes_survive_a_reopen_with_terms_and_configs_indexed) {
    temp_dir d;
    {
        auto s = open(d);
        ready rd;
        rd.hard_state = hard_state{.term = 3, .voted_for = 2};
        rd.entries = {data_entry(0, 1, 4), data_entry(4, 1), config_entry(5, 3, {{1, 2}}),
                      data_entry(6, 3, 2)};
        ASSERT_TRUE(s->write(rd, 0).has_value());
        ASSERT_TRUE(s->data()->flush().has_value());
    }
    auto s = open(d);
    EXPECT_EQ(s->state(), (hard_state{.term = 3, .voted_for = 2}));
    EXPECT_EQ(s->last_offset(), 7);
    auto p = s->position_of(2).value();
    EXPECT_EQ(p.base_offset, 0);
    EXPECT_EQ(p.last_offset, 3);
    EXPECT_EQ(p.term, 1);
    EXPECT_EQ(s->position_of(7).value().term, 3);
    ASSERT_EQ(s->configs().size(), 1u);
    EXPECT_EQ(s->configs()[0].first, 5);
    EXPECT_EQ(s->configs()[0].second, (configuration{{1, 2}}));
    auto es = s->entries(4, 7, 1 << 20).value();
    ASSERT_EQ(es.size(), 3u);
    EXPECT_EQ(es[1].kind, entry_kind::config);
    EXPECT_EQ(es[2].last_offset, 7);
    // A byte limit still returns the first entry whole.
    EXPECT_EQ(s->entries(4, 7, 1).value().size(), 1u);
    EXPECT_FALSE(s->entries(8, 9, 100).has_value());
}

TEST(log_store, a_divergent_suffix_is_replaced_and_its_config_forgotten) {
    temp_dir d;
    auto s = open(d);
    ready first;
    first.entries = {data_entry(0, 1), config_entry(1, 1, {{1, 2}}), data_entry(2, 1)};
    ASSERT_TRUE(s->write(first, 0).has_value());
    ready second;
    second.entries = {data_entry(1, 2), data_entry(2, 2, 3)};
    ASSERT_TRUE(s->write(second, 0).has_value());
    EXPECT_EQ(s->last_offset(), 4);
    EXPECT_TRUE(s->configs().empty());
    EXPECT_EQ(s->position_of(0).value().term, 1);
    EXPECT_EQ(s->position_of(3).value().term, 2);
}

TEST(log_store, an_installed_snapshot_replaces_the_log_and_survives_a_reopen) {
    temp_dir d;
    {
        auto s = open(d);
        ready first;
        first.entries = {data_entry(0, 1), data_entry(1, 1)};
        ASSERT_TRUE(s->write(first, 0).has_value());
        ready rd;
        rd.snapshot = snapshot{.last_offset = 49, .last_term = 4, .config = {{1, 3}}};
        rd.entries = {data_entry(50, 5)};
        ASSERT_TRUE(s->write(rd, 0).has_value());
        ASSERT_TRUE(s->data()->flush().has_value());
        EXPECT_EQ(s->last_offset(), 50);
    }
    auto s = open(d);
    EXPECT_EQ(s->snapshot().last_offset, 49);
    EXPECT_EQ(s->snapshot().config, (configuration{{1, 3}}));
    EXPECT_EQ(s->position_of(49).value().term, 4);
    EXPECT_EQ(s->position_of(50).value().term, 5);
    EXPECT_FALSE(s->position_of(1).has_value());
    EXPECT_EQ(s->entries(50, 50, 100).value().size(), 1u);
}

TEST(log_store, a_corrupt_state_file_is_refused_with_a_message) {
    temp_dir d;
    {
        auto s = open(d);
        ready rd;
        rd.hard_state = hard_state{.term = 9, .voted_for = 1};
        ASSERT_TRUE(s->write(rd, 0).has_value());
    }
    {
        std::fstream f(d.path / "raft_state", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(8);
        f.put('\x7f');
    }
    auto s = log_store::open(d.path, configuration{{1}}, storage::log_config{});
    ASSERT_FALSE(s.has_value());
    EXPECT_NE(s.error().message.find("raft_state"), std::string::npos);
}

}  // namespace
}  // namespace trib::raft

namespace trib::raft {
namespace {

TEST(log_store, compacting_keeps_the_data_and_the_config_in_force_and_survives_a_reopen) {
    temp_dir d;
    auto image = std::make_shared<const std::vector<uint8_t>>(std::vector<uint8_t>{9, 8, 7});
    {
        auto s = open(d);
        ready rd;
        rd.entries = {data_entry(0, 1, 4), config_entry(4, 2, {{1, 2}}), data_entry(5, 2, 2),
                      data_entry(7, 2)};
        ASSERT_TRUE(s->write(rd, 0).has_value());
        ASSERT_TRUE(s->data()->flush().has_value());
        EXPECT_FALSE(s->compact(2, image).has_value());  // inside a batch
        auto snap = s->compact(6, image);
        ASSERT_TRUE(snap.has_value());
        EXPECT_EQ(snap->last_term, 2);
        EXPECT_EQ(snap->config, (configuration{{1, 2}}));
        EXPECT_FALSE(s->compact(6, image).has_value());  // not past the snapshot
    }
    auto s = open(d);
    EXPECT_EQ(s->snapshot().last_offset, 6);
    ASSERT_TRUE(s->snapshot().data);
    EXPECT_EQ(*s->snapshot().data, *image);
    EXPECT_EQ(s->snapshot().config, (configuration{{1, 2}}));
    EXPECT_TRUE(s->configs().empty());
    EXPECT_EQ(s->data()->start_offset(), 7);
    EXPECT_EQ(s->last_offset(), 7);
    EXPECT_EQ(s->entries(7, 7, 1 << 20).value().size(), 1u);
}

TEST(log_store, a_start_inside_an_entry_keeps_the_entry_whole_and_survives_a_reopen) {
    // DeleteRecords may start the log inside a batch: the snapshot point goes to the end of
    // the entry before it, the entry stays readable whole (Raft replicates it) and a snapshot
    // installed later still empties the log.
    temp_dir d;
    auto payload = std::make_shared<const std::vector<uint8_t>>(std::vector<uint8_t>{1});
    {
        auto s = open(d);
        ready rd;
        rd.entries = {data_entry(0, 1, 10), data_entry(10, 1, 10), data_entry(20, 2)};
        ASSERT_TRUE(s->write(rd, 0).has_value());
        ASSERT_TRUE(s->data()->flush().has_value());
        EXPECT_EQ(s->batch_start_of(5), 0);
        auto moved = s->move_start(5, payload);
        ASSERT_TRUE(moved.has_value());
        EXPECT_EQ(moved->last_offset, -1);  // no whole entry before 5
        EXPECT_EQ(s->data()->start_offset(), 5);
        EXPECT_EQ(s->entries(0, 9, 1 << 20).value().size(), 1u);
        moved = s->move_start(15, payload);
        ASSERT_TRUE(moved.has_value());
        EXPECT_EQ(moved->last_offset, 9);
        EXPECT_EQ(moved->last_term, 1);
        EXPECT_FALSE(s->move_start(30, payload).has_value());  // past the end
    }
    auto s = open(d);
    EXPECT_EQ(s->snapshot().last_offset, 9);
    EXPECT_EQ(s->data()->start_offset(), 15);
    EXPECT_EQ(s->position_of(12).value().base_offset, 10);
    EXPECT_EQ(s->position_of(12).value().term, 1);
    EXPECT_EQ(s->position_of(20).value().term, 2);
    auto es = s->entries(10, 20, 1 << 20).value();
    ASSERT_EQ(es.size(), 2u);
    EXPECT_EQ(es[0].base_offset, 10);
    ready install;
    install.snapshot = snapshot{.last_offset = 29, .last_term = 3, .config = {{1, 2, 3}}};
    install.entries = {data_entry(30, 3)};
    ASSERT_TRUE(s->write(install, 0).has_value());
    EXPECT_EQ(s->data()->start_offset(), 30);
    EXPECT_EQ(s->last_offset(), 30);
}

}  // namespace
}  // namespace trib::raft

namespace trib::raft {
namespace {

// Writes entries of terms 1, 1 and 2 (offsets 0, 1-4, 5) with term 2 and a vote, synced, then
// flips one byte inside the records of the entry with index `damaged`.
void write_and_damage(const temp_dir& d, size_t damaged) {
    std::vector<entry> es = {data_entry(0, 1), data_entry(1, 1, 4), data_entry(5, 2)};
    {
        auto s = open(d);
        ready rd;
        rd.hard_state = hard_state{.term = 2, .voted_for = 3};
        rd.entries = es;
        ASSERT_TRUE(s->write(rd, 0).has_value());
        ASSERT_TRUE(s->data()->flush().has_value());
    }
    size_t position = 0;
    for (size_t i = 0; i < damaged; ++i)
        position += es[i].bytes().size();
    position += es[damaged].bytes().size() - 3;  // in the last record
    std::fstream f(d.path / "log" / "00000000000000000000.log",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(position));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(position));
    f.put(static_cast<char>(c ^ 0x40));
}

std::unique_ptr<log_store> open_with(const temp_dir& d, damage_repair repair) {
    auto s = log_store::open(d.path, configuration{{1, 2, 3}}, storage::log_config{}, std::nullopt,
                             repair);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
}

TEST(log_store, a_replica_with_peers_drops_damage_and_remembers_what_it_may_have_lost) {
    temp_dir d;
    write_and_damage(d, 1);
    {
        auto s = open_with(d, damage_repair::from_peers);
        ASSERT_TRUE(s);
        EXPECT_TRUE(s->data()->damage().empty());
        EXPECT_EQ(s->last_offset(), 0) << "the damaged entry goes, and the intact one after it";
        EXPECT_EQ(s->state(),
                  (hard_state{.term = 2, .voted_for = 3, .lost_through = 5, .lost_in_term = 2}));
        EXPECT_EQ(s->position_of(0).value().term, 1);
        // The leader's entries follow where the cut was.
        ready rd;
        rd.entries = {data_entry(1, 1, 4), data_entry(5, 2)};
        ASSERT_TRUE(s->write(rd, 0).has_value());
        ASSERT_TRUE(s->data()->flush().has_value());
    }
    // The mark is durable (a crash before the catch-up must not forget it), and the repaired
    // log is healthy.
    auto s = open_with(d, damage_repair::from_peers);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->state().lost_through, 5);
    EXPECT_EQ(s->last_offset(), 5);
    EXPECT_EQ(s->position_of(5).value().term, 2);
    ready cleared;
    cleared.hard_state = hard_state{.term = 2, .voted_for = 3};
    ASSERT_TRUE(s->write(cleared, 0).has_value());
    s.reset();
    EXPECT_EQ(open(d)->state(), (hard_state{.term = 2, .voted_for = 3}));
}

TEST(log_store, damage_that_ends_the_log_counts_every_offset_it_was_given_as_lost) {
    temp_dir d;
    write_and_damage(d, 2);
    auto s = open_with(d, damage_repair::from_peers);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->data()->damage().empty());
    EXPECT_EQ(s->last_offset(), 4);
    // Its offsets are unknown: the bound is the log's reservation, past all it ever held.
    EXPECT_GE(s->state().lost_through, 5);
    EXPECT_EQ(s->state().lost_through, s->data()->checkpoint().reserved_end - 1);
}

TEST(log_store, a_replica_alone_keeps_its_damage_and_serves_what_is_intact) {
    temp_dir d;
    write_and_damage(d, 1);
    auto s = open_with(d, damage_repair::keep);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->data()->damage().size(), 1u);
    EXPECT_EQ(s->state(), (hard_state{.term = 2, .voted_for = 3}));
    EXPECT_EQ(s->last_offset(), 5);
    EXPECT_EQ(s->entries(5, 5, 1 << 20).value().size(), 1u);
    EXPECT_FALSE(s->entries(1, 4, 1 << 20).has_value());
}

TEST(log_store, a_state_file_of_an_unknown_version_is_refused) {
    temp_dir d;
    open(d);
    // "TRST", version 3, term 1, vote 1: well sealed, but no version this build knows.
    std::vector<uint8_t> bytes = {'T', 'R', 'S', 'T', 0, 3};
    for (int i = 0; i < 7; ++i)
        bytes.push_back(0);
    bytes.push_back(1);
    for (uint8_t b : {0, 0, 0, 1})
        bytes.push_back(b);
    uint32_t crc = model::crc32c(bytes);
    for (int shift = 24; shift >= 0; shift -= 8)
        bytes.push_back(static_cast<uint8_t>(crc >> shift));
    {
        std::ofstream f(d.path / "raft_state", std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    }
    auto s = log_store::open(d.path, configuration{{1}}, storage::log_config{});
    ASSERT_FALSE(s.has_value());
    EXPECT_NE(s.error().message.find("raft_state malformed"), std::string::npos)
        << s.error().message;
}

}  // namespace
}  // namespace trib::raft
