#include "storage/errc.h"

#include <string>

namespace trib::storage {

namespace {
class storage_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "storage"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::io_error:
                return "I/O error";
            case errc::offset_out_of_range:
                return "offset out of range";
            case errc::corrupt_data:
                return "stored data is corrupt";
            case errc::invalid_batch:
                return "invalid record batch";
            case errc::not_a_batch_boundary:
                return "offset is not at a batch boundary";
            case errc::offset_mismatch:
                return "batch offsets do not follow the log";
            case errc::batch_too_large:
                return "record batch too large";
            case errc::log_closed:
                return "log closed";
            case errc::log_failed:
                return "log failed after an fsync error; restart to recover it";
            case errc::log_damaged:
                return "synced log data does not verify; the log is out of service until "
                       "salvaged (tributary salvage)";
        }
        return "unknown storage error";
    }
};
}  // namespace

const std::error_category& storage_category() {
    static const storage_category_impl instance;
    return instance;
}

}  // namespace trib::storage
