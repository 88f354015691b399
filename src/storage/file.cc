#include "storage/file.h"

#include <atomic>
#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

#include "storage/errc.h"

namespace trib::storage {

namespace {
std::error_code last_error() {
    return {errno, std::generic_category()};
}
}  // namespace

file::~file() {
    if (_fd >= 0) ::close(_fd);
}

file& file::operator=(file&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _fd = other._fd;
        other._fd = -1;
    }
    return *this;
}

result<file> file::open(const std::filesystem::path& path, bool create) {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return unexpected(last_error());
    return file(fd);
}

result<uint64_t> file::size() const {
    off_t end = ::lseek(_fd, 0, SEEK_END);
    if (end < 0) return unexpected(last_error());
    return static_cast<uint64_t>(end);
}

status file::write_at(uint64_t offset, std::span<const uint8_t> data) const {
    while (!data.empty()) {
        ssize_t n = ::pwrite(_fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return unexpected(last_error());
        }
        data = data.subspan(static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
    }
    return {};
}

status file::read_at(uint64_t offset, std::span<uint8_t> out) const {
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

namespace {
std::atomic<int> injected_sync_failures{0};
}  // namespace

void inject_sync_failures(int count) {
    injected_sync_failures = count;
}

status file::sync_data() const {
    for (int left = injected_sync_failures.load(); left > 0;) {
        if (injected_sync_failures.compare_exchange_weak(left, left - 1)) {
            return unexpected(std::error_code(EIO, std::generic_category()));
        }
    }
    if (::fdatasync(_fd) != 0) return unexpected(last_error());
    return {};
}

status file::truncate(uint64_t size) const {
    if (::ftruncate(_fd, static_cast<off_t>(size)) != 0) return unexpected(last_error());
    return {};
}

status sync_directory(const std::filesystem::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return unexpected(last_error());
    int rc = ::fsync(fd);
    std::error_code error = rc != 0 ? last_error() : std::error_code();
    ::close(fd);
    if (rc != 0) return unexpected(error);
    return {};
}

status write_file_durably(const std::filesystem::path& path, std::span<const uint8_t> data) {
    auto tmp = path;
    tmp += ".tmp";
    {
        auto f = file::open(tmp, true);
        if (!f) return unexpected(f.error());
        TRIB_TRY(f->truncate(0));
        TRIB_TRY(f->write_at(0, data));
        TRIB_TRY(f->sync_data());
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return unexpected(ec);
    return sync_directory(path.parent_path());
}

}  // namespace trib::storage
