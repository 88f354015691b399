// Producer ids for InitProducerId, unique for the life of the data directory. Ids come from
// blocks of 1000 whose end is written durably (the file `producer_ids`) before the block's
// first id is handed out, so a crash may skip ids but never repeats one. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>

#include "base/error.h"
#include "base/result.h"

namespace trib::cluster {

class producer_id_allocator {
  public:
    static constexpr int64_t block_size = 1000;

    static result<std::unique_ptr<producer_id_allocator>, error> open(
        const std::filesystem::path& data_dir);
    result<int64_t, error> next();

  private:
    explicit producer_id_allocator(std::filesystem::path file, int64_t next)
        : _file(std::move(file)), _next(next), _block_end(next) {}

    std::filesystem::path _file;
    std::mutex _mutex;
    int64_t _next;
    int64_t _block_end;  // ids below it are reserved on disk
};

}  // namespace trib::cluster
