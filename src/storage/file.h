// A file descriptor with the few operations the log needs, each returning a status. Short
// reads and writes are retried; EINTR is handled; errors carry errno.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "base/result.h"

namespace trib::storage {

class file {
  public:
    file() = default;
    ~file();
    file(file&& other) noexcept : _fd(other._fd) { other._fd = -1; }
    file& operator=(file&& other) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    // Opens for reading and writing, creating the file if `create`.
    static result<file> open(const std::filesystem::path& path, bool create);

    bool is_open() const { return _fd >= 0; }
    result<uint64_t> size() const;
    status write_at(uint64_t offset, std::span<const uint8_t> data) const;
    status read_at(uint64_t offset, std::span<uint8_t> out) const;  // exactly out.size()
    status sync_data() const;                                       // fdatasync
    status truncate(uint64_t size) const;

  private:
    explicit file(int fd) : _fd(fd) {}
    int _fd = -1;
};

// Tests only: the next `count` fdatasync calls on data files fail with EIO, as a failing disk
// would make them (the storage tests prove an fsync error is fatal for the log).
void inject_sync_failures(int count);

// fsync of a directory, so that files created, renamed or removed in it stay so.
status sync_directory(const std::filesystem::path& dir);

// Writes `data` to `path` durably: a temporary file, fsync, rename over, fsync the directory.
status write_file_durably(const std::filesystem::path& path, std::span<const uint8_t> data);

}  // namespace trib::storage
