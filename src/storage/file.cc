#include "storage/file.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/logging.h"
#include "storage/errc.h"

namespace trib::storage {

namespace {

std::error_code last_error() {
    return {errno, std::generic_category()};
}

// The disk-full state, logged once per change rather than once per failed request.
std::atomic<bool> full{false};
constexpr uint64_t free_enough_bytes = uint64_t{8} << 20;

void note_write(const std::filesystem::path& path, int error) {
    if (error == ENOSPC) {
        if (!full.exchange(true)) {
            ::trib::log::get("storage")->error(
                "disk full writing {}: appends and topic creation fail with KAFKA_STORAGE_ERROR "
                "until space is freed (DeleteTopics and DeleteRecords still work)",
                path.string());
        }
    } else if (error == 0 && full.load(std::memory_order_relaxed)) {
        // A small write often fits in a full disk's last block: the disk counts as having
        // space again only when it has a useful amount free (checked at most every 200 ms).
        static std::atomic<int64_t> last_check_ms{0};
        int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
        int64_t last = last_check_ms.load();
        if (now_ms - last < 200 || !last_check_ms.compare_exchange_strong(last, now_ms)) return;
        struct statvfs fs {};
        if (::statvfs(path.parent_path().c_str(), &fs) != 0) return;
        if (uint64_t{fs.f_bavail} * fs.f_frsize < free_enough_bytes) return;
        if (full.exchange(false)) {
            ::trib::log::get("storage")->info("disk has space again ({} bytes free)",
                                              uint64_t{fs.f_bavail} * fs.f_frsize);
        }
    }
}

class posix_file final : public file_backend {
  public:
    posix_file(int fd, std::filesystem::path path) : _fd(fd), _path(std::move(path)) {}
    ~posix_file() override { ::close(_fd); }
    posix_file(const posix_file&) = delete;
    posix_file& operator=(const posix_file&) = delete;

    result<uint64_t> size() const override {
        off_t end = ::lseek(_fd, 0, SEEK_END);
        if (end < 0) return unexpected(last_error());
        return static_cast<uint64_t>(end);
    }

    status write_at(uint64_t offset, std::span<const uint8_t> data) override {
        while (!data.empty()) {
            ssize_t n = ::pwrite(_fd, data.data(), data.size(), static_cast<off_t>(offset));
            if (n < 0) {
                if (errno == EINTR) continue;
                auto error = last_error();
                note_write(_path, error.value());
                return unexpected(error);
            }
            data = data.subspan(static_cast<size_t>(n));
            offset += static_cast<uint64_t>(n);
        }
        note_write(_path, 0);
        return {};
    }

    status read_at(uint64_t offset, std::span<uint8_t> out) const override {
        while (!out.empty()) {
            ssize_t n = ::pread(_fd, out.data(), out.size(), static_cast<off_t>(offset));
            if (n < 0) {
                if (errno == EINTR) continue;
                return unexpected(last_error());
            }
            if (n == 0) return errc::io_error;  // the file ended early
            out = out.subspan(static_cast<size_t>(n));
            offset += static_cast<uint64_t>(n);
        }
        return {};
    }

    status sync_data() override {
        if (::fdatasync(_fd) != 0) return unexpected(last_error());
        return {};
    }

    status truncate(uint64_t size) override {
        if (::ftruncate(_fd, static_cast<off_t>(size)) != 0) return unexpected(last_error());
        return {};
    }

  private:
    int _fd;
    std::filesystem::path _path;  // for the disk-full log line
};

class posix_io final : public io {
  public:
    result<std::unique_ptr<file_backend>> open(const std::filesystem::path& path,
                                               bool create) override {
        int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
        int fd = ::open(path.c_str(), flags, 0644);
        if (fd < 0) return unexpected(last_error());
        return std::unique_ptr<file_backend>(new posix_file(fd, path));
    }

    status sync_directory(const std::filesystem::path& dir) override {
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return unexpected(last_error());
        int rc = ::fsync(fd);
        std::error_code error = rc != 0 ? last_error() : std::error_code();
        ::close(fd);
        if (rc != 0) return unexpected(error);
        return {};
    }

    status rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
        std::error_code ec;
        std::filesystem::rename(from, to, ec);
        if (ec) return unexpected(ec);
        return {};
    }

    status remove(const std::filesystem::path& path) override {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
        if (ec) return unexpected(ec);
        return {};
    }
};

std::atomic<io*> installed{nullptr};

}  // namespace

io& io::posix() {
    static posix_io instance;
    return instance;
}

io& io::current() {
    io* i = installed.load(std::memory_order_acquire);
    return i ? *i : posix();
}

io* io::install(io* replacement) {
    return installed.exchange(replacement, std::memory_order_acq_rel);
}

result<file> file::open(const std::filesystem::path& path, bool create) {
    auto impl = io::current().open(path, create);
    if (!impl) return unexpected(impl.error());
    return file(std::move(*impl));
}

status sync_directory(const std::filesystem::path& dir) {
    return io::current().sync_directory(dir);
}

namespace {

std::mutex reserve_mutex;
std::filesystem::path reserve_path;
uint64_t reserve_bytes = 0;

bool is_enospc(const status& st) {
    return !st && st.error() == std::error_code(ENOSPC, std::generic_category());
}

status write_file_durably_once(const std::filesystem::path& path, std::span<const uint8_t> data) {
    auto tmp = path;
    tmp += ".tmp";
    {
        auto f = file::open(tmp, true);
        if (!f) return unexpected(f.error());
        TRIB_TRY(f->truncate(0));
        TRIB_TRY(f->write_at(0, data));
        TRIB_TRY(f->sync_data());
    }
    TRIB_TRY(io::current().rename(tmp, path));
    return sync_directory(path.parent_path());
}

// Preallocates the reserve file (fallocate: the blocks are really taken).
status make_reserve_locked() {
    int fd = ::open(reserve_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return unexpected(last_error());
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(reserve_bytes));
    if (rc == 0) rc = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    if (rc != 0) {
        std::error_code ignored;
        std::filesystem::remove(reserve_path, ignored);  // a partial reserve helps no one
        return unexpected(std::error_code(rc, std::generic_category()));
    }
    return sync_directory(reserve_path.parent_path());
}

}  // namespace

status set_space_reserve(const std::filesystem::path& path, uint64_t bytes) {
    std::lock_guard lock(reserve_mutex);
    reserve_path = path;
    reserve_bytes = bytes;
    std::error_code ec;
    if (bytes == 0) {
        std::filesystem::remove(path, ec);
        return {};
    }
    if (std::filesystem::file_size(path, ec) == bytes) return {};
    return make_reserve_locked();
}

bool release_space_reserve(const std::string& why) {
    std::lock_guard lock(reserve_mutex);
    std::error_code ec;
    if (reserve_bytes == 0 || !std::filesystem::exists(reserve_path, ec)) return false;
    ::trib::log::get("storage")->warn("disk full: releasing the {}-byte space reserve {} {}",
                                      reserve_bytes, reserve_path.string(), why);
    std::filesystem::remove(reserve_path, ec);
    (void)sync_directory(reserve_path.parent_path());
    return true;
}

status write_file_durably(const std::filesystem::path& path, std::span<const uint8_t> data) {
    auto st = write_file_durably_once(path, data);
    std::lock_guard lock(reserve_mutex);
    std::error_code ec;
    bool have_reserve = reserve_bytes > 0 && std::filesystem::exists(reserve_path, ec);
    if (is_enospc(st) && have_reserve) {
        ::trib::log::get("storage")->warn(
            "disk full: releasing the {}-byte space reserve {} to write {}", reserve_bytes,
            reserve_path.string(), path.string());
        std::filesystem::remove(reserve_path, ec);
        (void)sync_directory(reserve_path.parent_path());
        return write_file_durably_once(path, data);
    }
    if (st && reserve_bytes > 0 && !have_reserve && !full.load()) {
        // There is room again: take the reserve back for the next full disk.
        if (make_reserve_locked()) {
            ::trib::log::get("storage")->info("space reserve {} restored", reserve_path.string());
        }
    }
    return st;
}

bool disk_full() {
    return full.load();
}

}  // namespace trib::storage
