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

class posix_file final : public file_backend {
  public:
    explicit posix_file(int fd) : _fd(fd) {}
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
                return unexpected(last_error());
            }
            data = data.subspan(static_cast<size_t>(n));
            offset += static_cast<uint64_t>(n);
        }
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
};

class posix_io final : public io {
  public:
    result<std::unique_ptr<file_backend>> open(const std::filesystem::path& path,
                                               bool create) override {
        int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
        int fd = ::open(path.c_str(), flags, 0644);
        if (fd < 0) return unexpected(last_error());
        return std::unique_ptr<file_backend>(new posix_file(fd));
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
    TRIB_TRY(io::current().rename(tmp, path));
    return sync_directory(path.parent_path());
}

}  // namespace trib::storage
