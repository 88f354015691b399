#include "app/data_dir.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include "app/config.h"
#include "storage/file.h"

namespace trib::app {
namespace {

constexpr const char* lock_file_name = ".lock";
constexpr const char* node_id_file_name = "node_id";

error unusable(const std::filesystem::path& dir, std::string_view what, int err) {
    return error{make_error_code(config_errc::data_dir_unusable),
                 fmt::format("invalid value \"{}\" for node.data_dir: {}: {}", dir.string(), what,
                             std::strerror(err))};
}

result<void, error> check_node_id(const std::filesystem::path& dir, int32_t node_id) {
    auto path = dir / node_id_file_name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) return unexpected(unusable(dir, "cannot read node_id file", errno));
        // Durable (temp file, fsync, rename, fsync of the directory): a crash never leaves a
        // half-written id.
        auto text = fmt::format("{}\n", node_id);
        auto written = storage::write_file_durably(
            path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
        if (!written) {
            return unexpected(unusable(dir, "cannot write node_id file", written.error().value()));
        }
        return {};
    }
    char buf[32] = {};
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    int32_t stored = -1;
    auto [end, ec] = std::from_chars(buf, buf + std::max<ssize_t>(n, 0), stored);
    if (n <= 0 || ec != std::errc() || (*end != '\n' && *end != '\0')) {
        return unexpected(error{make_error_code(config_errc::data_dir_unusable),
                                fmt::format("data directory {} has a damaged node_id file; "
                                            "restore it or remove it to adopt the directory",
                                            dir.string())});
    }
    if (stored != node_id) {
        return unexpected(error{make_error_code(config_errc::data_dir_foreign),
                                fmt::format("data directory {} belongs to node {}, not node {} "
                                            "(node.id)",
                                            dir.string(), stored, node_id)});
    }
    return {};
}

}  // namespace

data_dir_lock& data_dir_lock::operator=(data_dir_lock&& other) noexcept {
    if (this != &other) {
        if (_fd >= 0) ::close(_fd);
        _fd = std::exchange(other._fd, -1);
    }
    return *this;
}

data_dir_lock::~data_dir_lock() {
    if (_fd >= 0) ::close(_fd);  // closing releases the flock
}

result<data_dir_lock, error> open_data_dir(const std::filesystem::path& dir, int32_t node_id) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return unexpected(unusable(dir, "cannot create directory", ec.value()));
    if (!std::filesystem::is_directory(dir, ec)) {
        return unexpected(unusable(dir, "path exists", ENOTDIR));
    }
    auto lock_path = dir / lock_file_name;
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return unexpected(unusable(dir, "cannot create lock file", errno));
    data_dir_lock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            return unexpected(error{make_error_code(config_errc::data_dir_locked),
                                    fmt::format("data directory {} is in use by another "
                                                "tributary process",
                                                dir.string())});
        }
        return unexpected(unusable(dir, "cannot lock", err));
    }
    // Record our pid for operators; a failure here means the directory is not writable.
    auto pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        return unexpected(unusable(dir, "not writable", errno));
    }
    TRIB_TRY(check_node_id(dir, node_id));
    return lock;
}

result<uint64_t, error> data_dir_id(const std::filesystem::path& dir) {
    auto path = dir / "dir_id";
    std::ifstream in(path);
    std::string text;
    if (in >> text) {
        uint64_t id = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id, 16);
        if (ec == std::errc() && end == text.data() + text.size() && id != 0) return id;
        return unexpected(error{make_error_code(config_errc::data_dir_unusable),
                                fmt::format("data directory {} has a damaged dir_id file; "
                                            "remove it to give the directory a new id",
                                            dir.string())});
    }
    std::random_device rd;
    uint64_t id = (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;
    auto out = fmt::format("{:016x}\n", id);
    auto written = storage::write_file_durably(
        path, std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
    if (!written)
        return unexpected(unusable(dir, "cannot write dir_id file", written.error().value()));
    return id;
}

}  // namespace trib::app
