// Leadership announcements: they round-trip, every truncation and a lying count are refused,
// and the table keeps the newest term per group.
#include "cluster/leaders.h"

#include <gtest/gtest.h>

namespace trib::cluster {
namespace {

TEST(leader_announcements, round_trip_and_refuse_every_truncation) {
    std::vector<leader_announcement> items{{.group = 7, .leader = 2, .term = 4, .in_sync = {2, 3}},
                                           {.group = 9, .leader = 1, .term = 1, .in_sync = {}}};
    auto bytes = encode_announcements(items);
    EXPECT_EQ(decode_announcements(bytes), items);
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(decode_announcements(std::span(bytes.data(), n))) << n;
    }
    auto lying = bytes;
    lying[1] = 0x7f;  // a count of billions
    EXPECT_FALSE(decode_announcements(lying));
}

TEST(leader_table, keeps_the_newest_term) {
    leader_table t;
    t.learn({.group = 1, .leader = 2, .term = 5});
    t.learn({.group = 1, .leader = 3, .term = 4});  // stale: an older term
    EXPECT_EQ(t.find(1)->leader, 2);
    t.learn({.group = 1, .leader = 3, .term = 6});
    EXPECT_EQ(t.find(1)->leader, 3);
    t.forget(1);
    EXPECT_FALSE(t.find(1));
}

}  // namespace
}  // namespace trib::cluster
