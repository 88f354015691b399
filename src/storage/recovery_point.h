// A log's recovery checkpoint, kept durably in `recovery_point` (docs/formats/storage.md):
// - every offset below `recovery_point` was fsynced, so recovery never cuts below it: a batch
//   there that does not verify is corruption, not a torn write;
// - no offset at or above `reserved_end` has been handed out, so a log that must be salvaged
//   past an unreadable tail restarts its numbering there and never reuses an offset.
// Two slots, written alternately, each with a sequence number and a CRC, so a torn write of
// one leaves the other.
#pragma once

#include <cstdint>
#include <filesystem>

#include "base/result.h"
#include "storage/file.h"

namespace trib::storage {

struct recovery_checkpoint {
    int64_t recovery_point = 0;
    int64_t reserved_end = 0;  // 0 with no checkpoint yet (a log written before they existed)
    friend bool operator==(const recovery_checkpoint&, const recovery_checkpoint&) = default;
};

class recovery_point_file {
  public:
    static constexpr const char* name = "recovery_point";

    // Opens (creating) the file in `dir` and reads its newest valid slot; a file with none
    // yields a checkpoint of zeros (everything is then treated as possibly unsynced).
    static result<recovery_point_file> open(const std::filesystem::path& dir);

    const recovery_checkpoint& current() const { return _current; }
    // Writes `next` into the older slot and fdatasyncs it.
    status write(const recovery_checkpoint& next);

  private:
    recovery_point_file(std::filesystem::path path, recovery_checkpoint c, uint64_t seq)
        : _path(std::move(path)), _current(c), _seq(seq) {}
    // Opened for each write, not held: a partition already holds three files per segment.
    std::filesystem::path _path;
    recovery_checkpoint _current;
    uint64_t _seq;  // of the newest slot
};

}  // namespace trib::storage
