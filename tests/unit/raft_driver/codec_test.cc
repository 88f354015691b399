// The node-to-node message codec: every message type survives a round trip, and truncated,
// corrupted or hostile frames are refused (never a crash).
#include <random>

#include <gtest/gtest.h>

#include "model/record_batch.h"
#include "raft/message_codec.h"

namespace trib::raft {
namespace {

entry make_entry(offset_t base, term_t term, const std::string& value) {
    model::record r{.value = std::vector<uint8_t>(value.begin(), value.end())};
    auto bytes = model::build_batch(
                     {.base_offset = base, .partition_leader_epoch = static_cast<int32_t>(term)},
                     std::span(&r, 1))
                     .value();
    return entry_from_batch(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))).value();
}

std::vector<message> samples() {
    std::vector<message> out;
    out.push_back({.type = msg_type::pre_vote, .term = 7, .last_offset = 41, .last_term = 6});
    out.push_back(
        {.type = msg_type::vote, .term = 7, .last_offset = 41, .last_term = 6, .transfer = true});
    out.push_back({.type = msg_type::vote_response, .term = 7, .granted = true});
    out.push_back({.type = msg_type::append,
                   .term = 7,
                   .prev_offset = 9,
                   .prev_term = 6,
                   .entries = {make_entry(10, 7, "a"), make_entry(11, 7, "bb")},
                   .commit_offset = 9});
    out.push_back({.type = msg_type::append_response,
                   .term = 7,
                   .granted = false,
                   .prev_offset = 9,
                   .match_offset = 4});
    out.push_back({.type = msg_type::heartbeat, .term = 7, .prev_offset = 12, .commit_offset = 11});
    out.push_back(
        {.type = msg_type::heartbeat_response, .term = 7, .prev_offset = 12, .match_offset = 11});
    snapshot s{.last_offset = 99,
               .last_term = 5,
               .config = {{1, 2, 3}},
               .data = std::make_shared<const std::vector<uint8_t>>(3, 0x7f)};
    out.push_back({.type = msg_type::snapshot, .term = 7, .snap = s});
    out.push_back({.type = msg_type::timeout_now, .term = 8});
    return out;
}

TEST(message_codec, every_type_round_trips_with_sender_and_receiver_from_the_connection) {
    std::vector<uint8_t> frame;
    auto in = samples();
    for (size_t i = 0; i < in.size(); ++i) {
        encode_message(100 + i, in[i], frame);
    }
    auto out = decode_frame(frame, 2, 3).value();
    ASSERT_EQ(out.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        const message& a = in[i];
        const message& b = out[i].msg;
        EXPECT_EQ(out[i].group, 100 + i);
        EXPECT_EQ(b.type, a.type);
        EXPECT_EQ(b.from, 2);
        EXPECT_EQ(b.to, 3);
        EXPECT_EQ(b.term, a.term);
        EXPECT_EQ(b.commit_offset, a.commit_offset) << to_string(a.type);
        EXPECT_EQ(b.match_offset, a.match_offset) << to_string(a.type);
        EXPECT_EQ(b.prev_offset, a.prev_offset) << to_string(a.type);
        if (a.type == msg_type::heartbeat || a.type == msg_type::heartbeat_response) {
            continue;
        }
        EXPECT_EQ(b.transfer, a.transfer);
        EXPECT_EQ(b.granted, a.granted);
        EXPECT_EQ(b.last_offset, a.last_offset);
        EXPECT_EQ(b.last_term, a.last_term);
        EXPECT_EQ(b.prev_offset, a.prev_offset);
        EXPECT_EQ(b.prev_term, a.prev_term);
        ASSERT_EQ(b.entries.size(), a.entries.size());
        for (size_t e = 0; e < a.entries.size(); ++e) {
            EXPECT_EQ(*b.entries[e].batch, *a.entries[e].batch);
            EXPECT_EQ(b.entries[e].term, a.entries[e].term);
        }
        ASSERT_EQ(b.snap.has_value(), a.snap.has_value());
        if (a.snap) {
            EXPECT_EQ(b.snap->last_offset, a.snap->last_offset);
            EXPECT_EQ(b.snap->config, a.snap->config);
            EXPECT_EQ(*b.snap->data, *a.snap->data);
        }
    }
}

TEST(message_codec, heartbeats_take_33_bytes_each) {
    std::vector<uint8_t> frame;
    encode_message(1, {.type = msg_type::heartbeat, .term = 3, .commit_offset = 5}, frame);
    EXPECT_EQ(frame.size(), 33u);  // group, type, term, sent-through and commit offsets
}

TEST(message_codec, every_truncation_of_a_frame_is_refused) {
    std::vector<uint8_t> frame;
    for (const message& m : samples()) {
        encode_message(1, m, frame);
    }
    // Cutting at a message boundary leaves a valid shorter frame; anywhere else must fail.
    for (size_t cut = 1; cut < frame.size(); ++cut) {
        auto r = decode_frame(std::span(frame).first(cut), 1, 2);
        if (r) {
            std::vector<uint8_t> again;
            for (const auto& am : *r) {
                encode_message(am.group, am.msg, again);
            }
            EXPECT_EQ(again.size(), cut) << "a cut frame decoded into something else";
        }
    }
}

TEST(message_codec, corrupted_entries_and_hostile_fields_are_refused) {
    std::vector<uint8_t> good;
    encode_message(1, samples()[3], good);  // the append with two entries
    // Flip every byte of the frame in turn: the CRC, the counts and the checks catch the
    // ones that matter; nothing may crash.
    size_t refused = 0;
    for (size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] ^= 0x5a;
        refused += decode_frame(bad, 1, 2).has_value() ? 0 : 1;
    }
    EXPECT_GT(refused, good.size() / 2);
    // Random garbage.
    std::mt19937_64 rng(42);
    for (int round = 0; round < 2000; ++round) {
        std::vector<uint8_t> junk(rng() % 300);
        for (auto& b : junk) {
            b = static_cast<uint8_t>(rng());
        }
        (void)decode_frame(junk, 1, 2);
    }
}

TEST(message_codec, an_append_whose_entries_do_not_follow_prev_offset_is_refused) {
    message m = samples()[3];
    m.prev_offset = 5;  // entries start at 10
    std::vector<uint8_t> frame;
    encode_message(1, m, frame);
    EXPECT_FALSE(decode_frame(frame, 1, 2).has_value());
    m = samples()[3];
    m.term = 6;  // entries of term 7 from a leader of term 6
    frame.clear();
    encode_message(1, m, frame);
    EXPECT_FALSE(decode_frame(frame, 1, 2).has_value());
}

// What the state machine would assert on is refused at the door instead.
TEST(message_codec, fields_the_state_machine_relies_on_are_checked) {
    auto refused = [](const message& m) {
        std::vector<uint8_t> frame;
        encode_message(1, m, frame);
        return !decode_frame(frame, 1, 2).has_value();
    };
    message m = samples()[3];
    m.prev_term = 8;  // entries of term 7 after an entry of term 8
    EXPECT_TRUE(refused(m));
    m = samples()[3];
    m.term = int64_t{1} << 31;  // does not fit a partition leader epoch
    EXPECT_TRUE(refused(m));
    m = samples()[0];
    m.last_term = 9;  // a candidate's log newer than its term
    EXPECT_TRUE(refused(m));
    m = samples()[3];
    m.prev_offset = -5;
    m.entries.clear();
    EXPECT_TRUE(refused(m));
    // A config entry whose voters are unsorted, with a valid CRC.
    auto bytes = make_config_batch(configuration{{3, 1}}, 0);
    model::set_base_offset(bytes, 10);
    model::set_partition_leader_epoch(bytes, 7);
    m = samples()[3];
    m.entries = {entry_from_batch(std::make_shared<const std::vector<uint8_t>>(bytes)).value()};
    EXPECT_TRUE(refused(m));
    EXPECT_FALSE(refused(samples()[3]));
}

}  // namespace
}  // namespace trib::raft
