// A file with the few operations the log needs, each returning a status, through the storage
// io (storage/io.h). Short reads and writes are retried; errors carry errno.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "base/result.h"
#include "storage/io.h"

namespace trib::storage {

class file {
  public:
    file() = default;

    // Opens for reading and writing, creating the file if `create`.
    static result<file> open(const std::filesystem::path& path, bool create);

    bool is_open() const { return _impl != nullptr; }
    result<uint64_t> size() const { return _impl->size(); }
    status write_at(uint64_t offset, std::span<const uint8_t> data) const {
        return _impl->write_at(offset, data);
    }
    status read_at(uint64_t offset, std::span<uint8_t> out) const {  // exactly out.size()
        return _impl->read_at(offset, out);
    }
    status sync_data() const { return _impl->sync_data(); }  // fdatasync
    status truncate(uint64_t size) const { return _impl->truncate(size); }

  private:
    explicit file(std::unique_ptr<file_backend> impl) : _impl(std::move(impl)) {}
    std::unique_ptr<file_backend> _impl;
};

// fsync of a directory, so that files created, renamed or removed in it stay so.
status sync_directory(const std::filesystem::path& dir);

// Writes `data` to `path` durably: a temporary file, fsync, rename over, fsync the directory.
// On a full disk it gives up the space reserve (below) and tries once more, so the metadata
// writes that deleting topics and records needs still succeed and space can be freed.
status write_file_durably(const std::filesystem::path& path, std::span<const uint8_t> data);

// An emergency reserve of disk space: a file of `bytes` preallocated at `path` (a node's data
// directory), deleted when a durable metadata write finds the disk full, and made again by a
// later metadata write once there is room. 0 bytes: no reserve.
status set_space_reserve(const std::filesystem::path& path, uint64_t bytes);

// Gives the reserve up now (the controller log appends while the disk is full, so that
// deleting topics still works); false if there was none.
bool release_space_reserve(const std::string& why);

// Whether the last data write found the disk full (ENOSPC). A change of state is logged once:
// an error when the disk fills, an info line when writes succeed again.
bool disk_full();

}  // namespace trib::storage
