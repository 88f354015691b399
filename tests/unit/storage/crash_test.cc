// Real crashes: a child process appends and flushes in a loop and is killed with SIGKILL at a
// random moment, many times over the same log. After each kill the log must reopen as a clean
// prefix (every batch verifies, offsets contiguous, contents as written) holding every batch
// the child had reported flushed.
//
// A SIGKILL keeps the page cache, so it cannot catch a missing fsync. The power-loss loop runs
// the child on a fault_io: its writes stay in its own memory until synced, and the kernel's
// writeback is imitated by pushing a random prefix of them to the file now and then (tearing
// one), so the kill loses exactly what a power cut would, torn tails included.
//
// The suite runs TRIB_CRASH_ITERATIONS kills (default 25) and TRIB_POWER_LOSS_ITERATIONS power
// losses (default 200); a longer hunt by hand:
//   TRIB_POWER_LOSS_ITERATIONS=10000 build/release/tests/unit/storage_test --gtest_filter='crash.*'
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/fault_io.h"
#include "storage/log.h"
#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

constexpr int records_per_batch = 2;

log_config crash_config() {
    log_config c;
    c.segment_bytes = uint64_t{64} * 1024;  // roll often, so kills land around rolls too
    c.index_interval_bytes = 1024;
    return c;
}

// The value of batch n: its number and a length that varies, so torn writes land anywhere.
std::string value_of(int64_t n) {
    return "batch-" + std::to_string(n) + "-" + std::string(static_cast<size_t>(n * 37 % 900), 'v');
}

[[noreturn]] void writer(const std::filesystem::path& dir, int report_fd, bool power_loss,
                         uint64_t seed) {
    if (power_loss) {
        auto* faults = new fault_io();  // lives until the kill
        faults->set_writeback(0.3, seed);
        io::install(faults);
    }
    auto l = log::open(dir, crash_config());
    if (!l) _exit(3);
    for (int64_t i = 0;; ++i) {
        int64_t n = (*l)->end_offset() / records_per_batch;
        auto b = test::make_batch(records_per_batch, n, value_of(n));
        if (!(*l)->append(b, n)) _exit(4);
        if (i % 4 == 3) {
            auto flushed = (*l)->flush();
            if (!flushed) _exit(5);
            int64_t v = *flushed;
            if (::write(report_fd, &v, sizeof v) != sizeof v) _exit(6);
        }
    }
}

int iterations(const char* variable, int fallback) {
    const char* env = std::getenv(variable);
    return env ? std::atoi(env) : fallback;
}

// Every iteration reads the whole log back, so a long hunt starts a fresh log every
// `iterations_per_log` kills to stay linear in time.
constexpr int iterations_per_log = 500;

void crash_loop(bool power_loss, int count) {
    std::mt19937 rng(20261122);
    std::optional<test::temp_dir> fresh;
    int64_t most_flushed = 0;
    bool ever_flushed = false;
    for (int iteration = 0; iteration < count; ++iteration) {
        if (iteration % iterations_per_log == 0) {
            fresh.emplace();
            ever_flushed = ever_flushed || most_flushed > 0;
            most_flushed = 0;
        }
        const test::temp_dir& dir = *fresh;
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        uint64_t seed = rng();
        pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            ::close(fds[0]);
            writer(dir.path(), fds[1], power_loss, seed);
        }
        ::close(fds[1]);
        std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 40000));
        ::kill(child, SIGKILL);
        int wstatus = 0;
        ::waitpid(child, &wstatus, 0);
        ASSERT_TRUE(WIFSIGNALED(wstatus))
            << "the writer failed on its own: " << WEXITSTATUS(wstatus);
        int64_t v = 0;
        while (::read(fds[0], &v, sizeof v) == sizeof v)
            most_flushed = std::max(most_flushed, v);
        ::close(fds[0]);

        auto l = log::open(dir.path(), crash_config());
        ASSERT_TRUE(l.has_value()) << l.error().message();
        int64_t end = (*l)->end_offset();
        ASSERT_GE(end, most_flushed) << "iteration " << iteration << ": flushed data lost";
        ASSERT_EQ(end % records_per_batch, 0);
        // Read everything back and check each batch is the one written at its offset.
        int64_t offset = 0;
        while (offset < end) {
            auto r = (*l)->read(offset, 1 << 20);
            ASSERT_TRUE(r.has_value()) << r.error().message();
            model::batch_walker walk(r->data);
            for (;;) {
                auto h = walk.next();
                ASSERT_TRUE(h.has_value()) << "iteration " << iteration;
                if (!h->has_value()) break;
                ASSERT_EQ((*h)->base_offset, offset);
                int64_t n = offset / records_per_batch;
                std::string expected = value_of(n);
                auto st = model::for_each_record(
                    walk.current(), 1 << 20, [&](const model::record_view& rec) {
                        ASSERT_TRUE(rec.value.has_value());
                        ASSERT_EQ(std::string(rec.value->begin(), rec.value->end()), expected);
                    });
                ASSERT_TRUE(st.has_value());
                offset = (*h)->last_offset() + 1;
            }
            ASSERT_FALSE(walk.truncated_tail());
            ASSERT_EQ(offset, r->next_offset);
        }
    }
    EXPECT_TRUE(ever_flushed || most_flushed > 0)
        << "the writer never flushed: the test proved nothing";
    std::printf("%d %s, the last log ending at offset %lld\n", count,
                power_loss ? "power losses" : "kills", static_cast<long long>(most_flushed));
}

TEST(crash, killed_writer_leaves_a_clean_prefix_with_every_flushed_batch) {
    crash_loop(false, iterations("TRIB_CRASH_ITERATIONS", 25));
}

TEST(crash, power_loss_leaves_a_clean_prefix_with_every_flushed_batch) {
    crash_loop(true, iterations("TRIB_POWER_LOSS_ITERATIONS", 200));
}

}  // namespace
}  // namespace trib::storage
