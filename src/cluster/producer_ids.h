// Producer ids for InitProducerId, unique across the cluster and its restarts: the controller
// hands out blocks of ids (its log makes each block durable and never gives it twice), and a
// node uses its block until it runs out, then asks for the next. A restart forgets the rest of
// its block (ids are skipped, never repeated). Thread-safe.
//
// The single-node version reserved ids in the file `producer_ids`; read_legacy_next reads
// its next id once, so the controller's first block starts past every id handed out before.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>

#include "base/error.h"
#include "base/result.h"

namespace trib::cluster {

class producer_id_allocator {
  public:
    static constexpr int32_t block_size = 1000;

    // The next id of the current block, or nullopt when it is used up (ask for a block).
    std::optional<int64_t> try_next();
    void add_block(int64_t first, int64_t count);

    // 0 when the file does not exist.
    static result<int64_t, error> read_legacy_next(const std::filesystem::path& data_dir);

  private:
    std::mutex _mutex;
    int64_t _next = 0;
    int64_t _end = 0;  // one past the block's last id
};

}  // namespace trib::cluster
