// Why a storage operation failed.
#pragma once

#include <system_error>

namespace trib::storage {

enum class errc {
    io_error = 1,          // the OS refused a read, write or sync (details logged)
    offset_out_of_range,   // below the log start offset or past the end
    corrupt_data,          // a stored batch fails its CRC or does not parse
    invalid_batch,         // an appended batch does not verify
    not_a_batch_boundary,  // truncation inside a batch
    offset_mismatch,       // a batch appended with its own offsets does not follow the log
    batch_too_large,       // larger than the log's max batch size
    log_closed,
    log_failed,   // an fsync failed earlier: the log takes no writes until reopened
    log_damaged,  // stored data that was synced does not verify: out of service until repaired
};
const std::error_category& storage_category();
inline std::error_code make_error_code(errc e) {
    return {static_cast<int>(e), storage_category()};
}

}  // namespace trib::storage

template <>
struct std::is_error_code_enum<trib::storage::errc> : std::true_type {};
