// The node's data directory: created if missing, locked against a second process, and stamped
// with the node id so that a directory is never opened by a different node by mistake.
#pragma once

#include <cstdint>
#include <filesystem>

#include "base/error.h"
#include "base/result.h"

namespace trib::app {

// Holds an exclusive flock on <data_dir>/.lock for as long as it lives.
class data_dir_lock {
  public:
    data_dir_lock() = default;
    explicit data_dir_lock(int fd) : _fd(fd) {}
    data_dir_lock(data_dir_lock&& other) noexcept : _fd(std::exchange(other._fd, -1)) {}
    data_dir_lock& operator=(data_dir_lock&& other) noexcept;
    data_dir_lock(const data_dir_lock&) = delete;
    data_dir_lock& operator=(const data_dir_lock&) = delete;
    ~data_dir_lock();

  private:
    int _fd = -1;
};

// Creates and locks the directory, and checks (or on first use writes) its node id file.
result<data_dir_lock, error> open_data_dir(const std::filesystem::path& dir, int32_t node_id);

// The directory's random id (the file `dir_id`, written once): the controller tells a
// restarted broker (same directory) from a second process claiming its node id.
result<uint64_t, error> data_dir_id(const std::filesystem::path& dir);

}  // namespace trib::app
