#include "storage/fault_io.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "storage/errc.h"

namespace trib::storage {

namespace {

std::error_code errno_code(int error) {
    return {error, std::generic_category()};
}

bool under(const std::string& path, const std::string& prefix) {
    return path.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// One open file: reads see the disk with the unsynced ops laid over it, in order.
class fault_file final : public file_backend {
  public:
    fault_file(fault_io& owner, std::string path, std::unique_ptr<file_backend> disk)
        : _owner(owner), _path(std::move(path)), _disk(std::move(disk)) {}

    result<uint64_t> size() const override {
        std::lock_guard lock(_owner._mutex);
        return size_locked();
    }

    status write_at(uint64_t offset, std::span<const uint8_t> data) override {
        std::lock_guard lock(_owner._mutex);
        if (int e = _owner.injected_locked(fault_io::op::write, _path)) {
            return unexpected(errno_code(e));
        }
        auto& state = _owner._files[_path];
        state.ops.push_back({false, offset, {data.begin(), data.end()}});
        std::uniform_real_distribution<double> coin(0, 1);
        if (_owner._writeback_probability > 0 &&
            coin(_owner._rng) < _owner._writeback_probability) {
            size_t whole = 0;
            size_t part = 0;
            _owner.random_cut_locked(state, whole, part);
            return _owner.write_back_locked(state, *_disk, whole, part);
        }
        return {};
    }

    status read_at(uint64_t offset, std::span<uint8_t> out) const override {
        std::lock_guard lock(_owner._mutex);
        auto logical = size_locked();
        if (!logical) return unexpected(logical.error());
        if (offset + out.size() > *logical) return errc::io_error;  // the file ended early
        auto disk_size = _disk->size();
        if (!disk_size) return unexpected(disk_size.error());
        std::fill(out.begin(), out.end(), uint8_t{0});
        if (offset < *disk_size) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), *disk_size - offset));
            TRIB_TRY(_disk->read_at(offset, out.first(n)));
        }
        uint64_t end = offset + out.size();
        auto it = _owner._files.find(_path);
        if (it == _owner._files.end()) return {};
        for (const auto& p : it->second.ops) {
            if (p.truncate) {
                if (p.offset < end) {
                    uint64_t from = std::max(p.offset, offset);
                    std::fill(out.begin() + static_cast<ptrdiff_t>(from - offset), out.end(),
                              uint8_t{0});
                }
                continue;
            }
            uint64_t lo = std::max(p.offset, offset);
            uint64_t hi = std::min(p.offset + p.data.size(), end);
            if (lo >= hi) continue;
            std::memcpy(out.data() + (lo - offset), p.data.data() + (lo - p.offset), hi - lo);
        }
        return {};
    }

    status sync_data() override {
        std::lock_guard lock(_owner._mutex);
        auto& state = _owner._files[_path];
        if (int e = _owner.injected_locked(fault_io::op::sync, _path)) {
            state.ops.clear();  // the pages of a failed fsync may be dropped (fsyncgate)
            return unexpected(errno_code(e));
        }
        TRIB_TRY(_owner.write_back_locked(state, *_disk, state.ops.size(), 0));
        return _disk->sync_data();
    }

    status truncate(uint64_t size) override {
        std::lock_guard lock(_owner._mutex);
        if (int e = _owner.injected_locked(fault_io::op::truncate, _path)) {
            return unexpected(errno_code(e));
        }
        _owner._files[_path].ops.push_back({true, size, {}});
        return {};
    }

  private:
    result<uint64_t> size_locked() const {
        auto size = _disk->size();
        if (!size) return size;
        uint64_t n = *size;
        auto it = _owner._files.find(_path);
        if (it == _owner._files.end()) return n;
        for (const auto& p : it->second.ops) {
            n = p.truncate ? p.offset : std::max<uint64_t>(n, p.offset + p.data.size());
        }
        return n;
    }

    fault_io& _owner;
    std::string _path;
    std::unique_ptr<file_backend> _disk;
};

void fault_io::fail(op what, int error, int count, const std::filesystem::path& prefix) {
    std::lock_guard lock(_mutex);
    _faults.push_back({what, error, count, 0, prefix.string()});
}

void fault_io::fail_randomly(op what, int error, double probability, uint64_t seed,
                             const std::filesystem::path& prefix) {
    std::lock_guard lock(_mutex);
    _rng.seed(seed);
    _faults.push_back({what, error, -1, probability, prefix.string()});
}

void fault_io::clear_faults() {
    std::lock_guard lock(_mutex);
    _faults.clear();
}

void fault_io::set_writeback(double probability, uint64_t seed) {
    std::lock_guard lock(_mutex);
    _writeback_probability = probability;
    _rng.seed(seed);
}

int fault_io::injected_locked(op what, const std::filesystem::path& path) {
    auto p = path.string();
    for (auto& f : _faults) {
        if (f.what != what || !under(p, f.prefix)) continue;
        if (f.count > 0) {
            --f.count;
        } else if (f.count < 0) {
            if (std::uniform_real_distribution<double>(0, 1)(_rng) >= f.probability) continue;
        } else {
            continue;
        }
        ++_faults_injected;
        return f.error;
    }
    return 0;
}

void fault_io::random_cut_locked(const file_state& state, size_t& whole, size_t& part) {
    whole =
        state.ops.empty() ? 0 : std::uniform_int_distribution<size_t>(0, state.ops.size())(_rng);
    part = 0;
    if (whole < state.ops.size() && !state.ops[whole].truncate && !state.ops[whole].data.empty()) {
        part = std::uniform_int_distribution<size_t>(0, state.ops[whole].data.size() - 1)(_rng);
    }
}

status fault_io::write_back_locked(file_state& state, file_backend& f, size_t whole, size_t part) {
    TRIB_ASSERT(whole <= state.ops.size());
    for (size_t i = 0; i < whole; ++i) {
        const auto& p = state.ops[i];
        TRIB_TRY(p.truncate ? f.truncate(p.offset) : f.write_at(p.offset, p.data));
    }
    state.ops.erase(state.ops.begin(), state.ops.begin() + static_cast<ptrdiff_t>(whole));
    if (part > 0 && !state.ops.empty()) {
        auto& torn = state.ops.front();
        TRIB_ASSERT(!torn.truncate && part < torn.data.size());
        TRIB_TRY(f.write_at(torn.offset, std::span(torn.data).first(part)));
        torn.data.erase(torn.data.begin(), torn.data.begin() + static_cast<ptrdiff_t>(part));
        torn.offset += part;
    }
    return {};
}

void fault_io::lose_power(uint64_t seed, bool keep_none, const std::filesystem::path& prefix) {
    std::lock_guard lock(_mutex);
    _rng.seed(seed);
    auto p = prefix.string();
    for (auto& [path, state] : _files) {
        if (!under(path, p) || state.ops.empty()) continue;
        if (!keep_none) {
            size_t whole = 0;
            size_t part = 0;
            random_cut_locked(state, whole, part);
            if (auto f = _below.open(path, false)) (void)write_back_locked(state, **f, whole, part);
        }
        state.ops.clear();
    }
}

uint64_t fault_io::unsynced_bytes() const {
    std::lock_guard lock(_mutex);
    uint64_t n = 0;
    for (const auto& [path, state] : _files) {
        for (const auto& p : state.ops)
            n += p.data.size();
    }
    return n;
}

uint64_t fault_io::faults_injected() const {
    std::lock_guard lock(_mutex);
    return _faults_injected;
}

result<std::unique_ptr<file_backend>> fault_io::open(const std::filesystem::path& path,
                                                     bool create) {
    std::lock_guard lock(_mutex);
    std::error_code ec;
    if (create && !std::filesystem::exists(path, ec)) {
        if (int e = injected_locked(op::create, path)) return unexpected(errno_code(e));
    }
    auto disk = _below.open(path, create);
    if (!disk) return unexpected(disk.error());
    return std::unique_ptr<file_backend>(new fault_file(*this, path.string(), std::move(*disk)));
}

status fault_io::sync_directory(const std::filesystem::path& dir) {
    {
        std::lock_guard lock(_mutex);
        if (int e = injected_locked(op::sync_directory, dir)) return unexpected(errno_code(e));
    }
    return _below.sync_directory(dir);
}

status fault_io::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::lock_guard lock(_mutex);
    if (int e = injected_locked(op::rename, from)) return unexpected(errno_code(e));
    TRIB_TRY(_below.rename(from, to));
    // Unsynced writes follow the file (and those of a directory's files, its directory).
    auto f = from.string();
    auto t = to.string();
    std::map<std::string, file_state> moved;
    for (auto it = _files.begin(); it != _files.end();) {
        if (it->first == f || under(it->first, f + "/")) {
            moved[t + it->first.substr(f.size())] = std::move(it->second);
            it = _files.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& [path, state] : moved)
        _files[path] = std::move(state);
    return {};
}

status fault_io::remove(const std::filesystem::path& path) {
    std::lock_guard lock(_mutex);
    if (int e = injected_locked(op::remove, path)) return unexpected(errno_code(e));
    auto p = path.string();
    std::erase_if(_files,
                  [&](const auto& kv) { return kv.first == p || under(kv.first, p + "/"); });
    return _below.remove(path);
}

}  // namespace trib::storage
