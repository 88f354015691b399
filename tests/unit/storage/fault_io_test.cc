// The test seam itself: what it keeps, loses, tears and fails must be what the crash and
// fault tests assume.
#include "storage/fault_io.h"

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

#include "storage/file.h"
#include "unit/storage/test_log.h"

namespace trib::storage {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string contents(const std::filesystem::path& path, io& through) {
    auto f = through.open(path, false).value();
    std::string out(f->size().value(), '\0');
    EXPECT_TRUE(f->read_at(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()}));
    return out;
}

TEST(fault_io, unsynced_writes_read_back_but_only_synced_ones_survive_a_power_loss) {
    test::temp_dir dir;
    fault_io faults;
    auto path = dir.path() / "f";
    auto f = faults.open(path, true).value();
    ASSERT_TRUE(f->write_at(0, bytes_of("durable ")));
    ASSERT_TRUE(f->sync_data());
    ASSERT_TRUE(f->write_at(8, bytes_of("lost")));
    ASSERT_TRUE(f->truncate(6));  // an unsynced truncation is lost too
    ASSERT_TRUE(f->write_at(6, bytes_of("!!")));
    EXPECT_EQ(contents(path, faults), "durabl!!");
    EXPECT_EQ(contents(path, io::posix()), "durable ");  // nothing unsynced on the disk
    faults.lose_power(1, true);
    EXPECT_EQ(contents(path, faults), "durable ");
    EXPECT_EQ(faults.unsynced_bytes(), 0U);
}

TEST(fault_io, a_power_loss_keeps_a_prefix_of_the_unsynced_writes_possibly_torn) {
    bool saw_torn = false;
    bool saw_none = false;
    for (uint64_t seed = 0; seed < 64; ++seed) {
        test::temp_dir dir;
        fault_io faults;
        auto path = dir.path() / "f";
        auto f = faults.open(path, true).value();
        ASSERT_TRUE(f->write_at(0, bytes_of("aaaa")));
        ASSERT_TRUE(f->write_at(4, bytes_of("bbbb")));
        ASSERT_TRUE(f->write_at(8, bytes_of("cccc")));
        faults.lose_power(seed);
        auto left = contents(path, io::posix());
        EXPECT_EQ(left, std::string("aaaabbbbcccc").substr(0, left.size())) << seed;
        saw_torn = saw_torn || left.size() % 4 != 0;
        saw_none = saw_none || left.empty();
    }
    EXPECT_TRUE(saw_torn);
    EXPECT_TRUE(saw_none);
}

TEST(fault_io, calls_fail_as_told_and_a_failed_sync_loses_the_unsynced_writes) {
    test::temp_dir dir;
    fault_io faults;
    auto path = dir.path() / "f";
    auto f = faults.open(path, true).value();
    faults.fail(fault_io::op::write, ENOSPC, 1);
    auto full = f->write_at(0, bytes_of("x"));
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error(), std::error_code(ENOSPC, std::generic_category()));
    ASSERT_TRUE(f->write_at(0, bytes_of("y")));  // the fault was for one call
    faults.fail(fault_io::op::sync, EIO, 1);
    ASSERT_FALSE(f->sync_data());
    EXPECT_EQ(f->size().value(), 0U) << "the pages of a failed fsync are gone (fsyncgate)";
    // Faults can be limited to a path prefix, e.g. one node's data directory.
    faults.fail(fault_io::op::create, EIO, 1, dir.path() / "other");
    EXPECT_TRUE(faults.open(dir.path() / "mine", true));
    EXPECT_FALSE(faults.open(dir.path() / "other", true));
    EXPECT_EQ(faults.faults_injected(), 3U);
}

TEST(fault_io, unsynced_writes_follow_a_rename) {
    test::temp_dir dir;
    fault_io faults;
    auto f = faults.open(dir.path() / "a", true).value();
    ASSERT_TRUE(f->write_at(0, bytes_of("moved")));
    ASSERT_TRUE(faults.rename(dir.path() / "a", dir.path() / "b"));
    EXPECT_EQ(contents(dir.path() / "b", faults), "moved");
    ASSERT_TRUE(faults.remove(dir.path() / "b"));
    EXPECT_EQ(faults.unsynced_bytes(), 0U);
}

}  // namespace
}  // namespace trib::storage
