// The group committer and the fsync-failure rule: requests are served, flush.messages and
// flush.ms trigger syncs on their own, a failed fdatasync fails the log for good, and the
// data that was on disk comes back when the log is reopened.
#include "storage/flusher.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/errc.h"
#include "storage/fault_io.h"
#include "storage/file.h"
#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

using namespace std::chrono_literals;
using test::make_batch;
using test::temp_dir;

constexpr auto generous = 10s;  // an upper bound for a correct flusher, not a timing claim

std::shared_ptr<log> open_shared(const std::filesystem::path& dir, log_config c) {
    return std::shared_ptr<log>(log::open(dir, c).value());
}

int64_t append_one(log& l) {
    auto b = make_batch(2, 1000, "value");
    return l.append(b, 1000).value().last_offset;
}

TEST(flusher, a_request_makes_the_log_durable) {
    temp_dir dir;
    log_config c;
    c.flush_ms = INT64_MAX;  // only requests flush
    auto l = open_shared(dir.path(), c);
    flusher f;
    f.add(l);
    int64_t last = append_one(*l);
    f.appended(l.get());
    EXPECT_EQ(l->flushed_offset(), 0);  // no policy fired: nothing synced on its own
    f.request(l.get());
    EXPECT_TRUE(l->wait_flushed(last, generous));
}

TEST(flusher, many_writers_share_syncs_and_all_become_durable) {
    temp_dir dir;
    log_config c;
    c.flush_ms = INT64_MAX;
    auto l = open_shared(dir.path(), c);
    flusher f;
    f.add(l);
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
        writers.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                int64_t last = append_one(*l);
                f.request(l.get());
                ASSERT_TRUE(l->wait_flushed(last, generous));
            }
        });
    }
    for (auto& t : writers)
        t.join();
    EXPECT_EQ(l->flushed_offset(), l->end_offset());
}

TEST(flusher, flush_messages_triggers_a_sync) {
    temp_dir dir;
    log_config c;
    c.flush_ms = INT64_MAX;
    c.flush_messages = 10;
    auto l = open_shared(dir.path(), c);
    flusher f;
    f.add(l);
    int64_t last = 0;
    for (int i = 0; i < 5; ++i) {
        last = append_one(*l);  // two messages a batch: the fifth reaches ten
        f.appended(l.get());
    }
    EXPECT_TRUE(l->wait_flushed(last, generous));
}

TEST(flusher, flush_ms_triggers_a_sync) {
    temp_dir dir;
    log_config c;
    c.flush_ms = 20;
    auto l = open_shared(dir.path(), c);
    flusher f;
    f.add(l);
    int64_t last = append_one(*l);
    f.appended(l.get());
    EXPECT_TRUE(l->wait_flushed(last, generous));
}

TEST(flusher, stopping_flushes_every_registered_log) {
    temp_dir dir;
    log_config c;
    c.flush_ms = INT64_MAX;
    auto l = open_shared(dir.path(), c);
    {
        flusher f;
        f.add(l);
        append_one(*l);
    }
    EXPECT_EQ(l->flushed_offset(), l->end_offset());
}

TEST(flusher, threads_sync_different_logs_in_parallel_never_one_log_twice_at_once) {
    temp_dir dir;
    log_config c;
    c.flush_ms = INT64_MAX;
    constexpr int logs = 12;
    std::vector<std::shared_ptr<log>> opened;
    std::vector<std::atomic<int>> active(logs);
    std::atomic<bool> overlap{false};
    auto f = std::make_unique<flusher>(4);
    for (int i = 0; i < logs; ++i) {
        opened.push_back(open_shared(dir.path() / std::to_string(i), c));
        // The callback runs while its log counts as being synced: two at once would mean
        // two threads took the same log.
        f->add(opened.back(), [&active, &overlap, i] {
            if (++active[i] > 1) overlap = true;
            std::this_thread::sleep_for(1ms);
            --active[i];
        });
    }
    std::vector<std::thread> writers;
    for (int w = 0; w < logs; ++w) {
        writers.emplace_back([&, w] {
            for (int i = 0; i < 20; ++i) {
                auto& l = *opened[static_cast<size_t>(w)];
                int64_t last = append_one(l);
                f->request(&l);
                f->request(&l);  // a second request while the first may be running
                ASSERT_TRUE(l.wait_flushed(last, generous));
            }
        });
    }
    for (auto& t : writers)
        t.join();
    for (auto& l : opened)
        append_one(*l);
    f.reset();  // stopping flushes every log, whichever thread takes it
    EXPECT_FALSE(overlap);
    for (auto& l : opened)
        EXPECT_EQ(l->flushed_offset(), l->end_offset());
}

TEST(flusher, a_removed_log_is_ignored_not_an_error) {
    // A produce can still hold a partition whose topic is being deleted.
    temp_dir dir;
    auto l = open_shared(dir.path(), log_config{});
    flusher f;
    f.add(l);
    f.remove(l.get());
    append_one(*l);
    f.appended(l.get());
    f.request(l.get());
    EXPECT_FALSE(l->wait_flushed(0, std::chrono::milliseconds(50)));  // nobody flushes it
}

TEST(fsync_failure, fails_the_log_for_good_and_reopen_recovers) {
    temp_dir dir;
    log_config c;
    c.flush_ms = INT64_MAX;
    int64_t last = 0;
    {
        scoped_fault_io faults;
        auto l = open_shared(dir.path(), c);
        flusher f;
        f.add(l);
        last = append_one(*l);
        faults->fail(fault_io::op::sync, EIO, 1);
        f.request(l.get());
        EXPECT_FALSE(l->wait_flushed(last, generous));
        EXPECT_TRUE(l->failed());
        EXPECT_EQ(l->flushed_offset(), 0);  // never reported durable
        // No retry-and-trust: later flushes and appends fail too, even with a healthy disk.
        auto again = l->flush();
        ASSERT_FALSE(again.has_value());
        EXPECT_EQ(again.error(), errc::log_failed);
        auto b = make_batch(1, 1000, "x");
        auto appended = l->append(b, 1000);
        ASSERT_FALSE(appended.has_value());
        EXPECT_EQ(appended.error(), errc::log_failed);
        f.remove(l.get());
    }
    // Reopening recovers what is really in the file: the failed sync's pages were dropped
    // (fault_io does what Linux may do), so the batch never reported durable is gone.
    auto reopened = log::open(dir.path(), c).value();
    EXPECT_FALSE(reopened->failed());
    EXPECT_EQ(reopened->end_offset(), last - 1);
    EXPECT_TRUE(reopened->flush().has_value());
}

TEST(fsync_failure, a_failed_sync_on_roll_fails_the_append) {
    temp_dir dir;
    log_config c;
    c.segment_bytes = 1024;
    scoped_fault_io faults;
    auto l = log::open(dir.path(), c).value();
    auto big = make_batch(3, 1000, std::string(300, 'x'));
    ASSERT_TRUE(l->append(big, 1000).has_value());
    ASSERT_TRUE(l->append(big, 1000).has_value());
    faults->fail(fault_io::op::sync, EIO, 1);
    auto rolled = l->append(big, 1000);  // rolls: the old segment must sync first
    ASSERT_FALSE(rolled.has_value());
    EXPECT_TRUE(l->failed());
}

}  // namespace
}  // namespace trib::storage
