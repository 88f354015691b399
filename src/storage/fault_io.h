// A storage io for tests that behaves like a disk that can lose power and fail (in the manner
// of leveldb's fault-injection Env and FoundationDB's non-durable files):
// - writes and truncations stay in this process's memory until the file is synced, so
//   drop_unsynced(), or killing the process, loses exactly what a power cut would;
// - the kernel's writeback is imitated by letting a random prefix of a file's unsynced writes
//   reach the disk (not synced), the last possibly torn part-way, so a power cut also leaves
//   torn tails;
// - any call can be made to fail with an errno (EIO, ENOSPC), a number of times or at random.
// A sync that fails loses the file's unsynced writes, as Linux may drop the pages of a failed
// fsync ("fsyncgate"). Directory calls pass through at once (they are durable here).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "storage/io.h"

namespace trib::storage {

class fault_io final : public io {
  public:
    enum class op { write, sync, truncate, create, rename, remove, sync_directory };

    explicit fault_io(io& below = io::posix()) : _below(below) {}

    // The next `count` calls of `what` on paths that start with `prefix` fail with `error`.
    void fail(op what, int error, int count, const std::filesystem::path& prefix = {});
    // Every call of `what` on such paths fails with `error` with this probability (seeded).
    void fail_randomly(op what, int error, double probability, uint64_t seed,
                       const std::filesystem::path& prefix = {});
    void clear_faults();
    // After each write, with this probability, a random prefix of that file's unsynced writes
    // goes to the disk unsynced (writeback), possibly tearing one.
    void set_writeback(double probability, uint64_t seed);

    // Power loss: a random prefix of each file's unsynced writes reaches the disk (the last
    // possibly torn), the rest is gone. With `keep_none`, nothing unsynced survives.
    void lose_power(uint64_t seed, bool keep_none = false,
                    const std::filesystem::path& prefix = {});
    // Bytes written but not yet synced, across files (tests).
    uint64_t unsynced_bytes() const;
    // Calls failed so far.
    uint64_t faults_injected() const;

    result<std::unique_ptr<file_backend>> open(const std::filesystem::path& path,
                                               bool create) override;
    status sync_directory(const std::filesystem::path& dir) override;
    status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
    status remove(const std::filesystem::path& path) override;

  private:
    friend class fault_file;
    struct pending {
        bool truncate = false;
        uint64_t offset = 0;  // of a write; the new size of a truncation
        std::vector<uint8_t> data;
    };
    struct file_state {
        std::vector<pending> ops;  // in the order they were made, none applied to the disk
    };
    struct fault {
        op what;
        int error;
        int count;           // < 0: random with `probability`
        double probability;  // for random faults
        std::string prefix;
    };

    // Under _mutex: the errno to fail this call with, or 0.
    int injected_locked(op what, const std::filesystem::path& path);
    // Under _mutex: applies the first `whole` ops of `state` to `f` and `part` bytes of the
    // next (a write), dropping what was applied.
    status write_back_locked(file_state& state, file_backend& f, size_t whole, size_t part);
    // Under _mutex: a random cut of `state`'s ops (how much writeback reached the disk).
    void random_cut_locked(const file_state& state, size_t& whole, size_t& part);

    io& _below;
    mutable std::mutex _mutex;
    std::map<std::string, file_state> _files;
    std::vector<fault> _faults;
    std::mt19937_64 _rng{1};
    double _writeback_probability = 0;
    uint64_t _faults_injected = 0;
};

// Installs a fault_io as the storage io for as long as it lives (a test's scope).
class scoped_fault_io {
  public:
    scoped_fault_io() : _previous(io::install(&_io)) {}
    ~scoped_fault_io() { io::install(_previous); }
    scoped_fault_io(const scoped_fault_io&) = delete;
    scoped_fault_io& operator=(const scoped_fault_io&) = delete;
    fault_io& get() { return _io; }
    fault_io* operator->() { return &_io; }

  private:
    fault_io _io;
    io* _previous;
};

}  // namespace trib::storage
