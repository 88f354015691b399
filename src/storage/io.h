// The storage engine's one door to the file system, in the manner of leveldb's Env: file
// contents (open, size, read, write, sync, truncate) and the directory calls whose durability
// matters (sync, rename, remove). The standard implementation is POSIX. Tests install a
// fault_io (storage/fault_io.h) that keeps what was not synced in memory, so a kill is a power
// loss, and can tear writes and fail calls with EIO or ENOSPC.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "base/result.h"

namespace trib::storage {

// One open file. Short reads and writes are retried and EINTR handled by the implementation.
class file_backend {
  public:
    virtual ~file_backend() = default;
    virtual result<uint64_t> size() const = 0;
    virtual status write_at(uint64_t offset, std::span<const uint8_t> data) = 0;
    virtual status read_at(uint64_t offset, std::span<uint8_t> out) const = 0;  // all of it
    virtual status sync_data() = 0;                                             // fdatasync
    virtual status truncate(uint64_t size) = 0;
};

class io {
  public:
    virtual ~io() = default;
    // Opens for reading and writing, creating the file if `create`.
    virtual result<std::unique_ptr<file_backend>> open(const std::filesystem::path& path,
                                                       bool create) = 0;
    virtual status sync_directory(const std::filesystem::path& dir) = 0;
    virtual status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
    // Removes a file or a whole directory tree; a missing one is not an error.
    virtual status remove(const std::filesystem::path& path) = 0;

    // What every storage call goes through: posix() unless a test installed another.
    static io& current();
    static io& posix();
    // Tests only: from now on storage calls go to `replacement` (nullptr: back to POSIX).
    // Returns the one it replaces. Not for use while logs are open on another thread.
    static io* install(io* replacement);
};

}  // namespace trib::storage
