#include "storage/segment_index.h"

#include <algorithm>
#include <array>

#include "base/big_endian.h"
#include "storage/errc.h"

namespace trib::storage {

namespace {

// On disk, big-endian: offset index entry = relative offset u32, position u32;
// time index entry = max timestamp i64, relative offset u32.
constexpr size_t offset_entry_size = 8;
constexpr size_t time_entry_size = 12;

result<std::vector<uint8_t>> read_all(const file& f) {
    auto size = f.size();
    if (!size) return unexpected(size.error());
    std::vector<uint8_t> data(*size);
    TRIB_TRY(f.read_at(0, data));
    return data;
}

}  // namespace

result<bool> segment_index::open(const std::filesystem::path& offset_path,
                                 const std::filesystem::path& time_path, uint64_t segment_size) {
    auto of = file::open(offset_path, true);
    if (!of) return unexpected(of.error());
    auto tf = file::open(time_path, true);
    if (!tf) return unexpected(tf.error());
    _offset_file = std::move(*of);
    _time_file = std::move(*tf);
    auto offsets = read_all(_offset_file);
    if (!offsets) return unexpected(offsets.error());
    auto times = read_all(_time_file);
    if (!times) return unexpected(times.error());

    size_t n = offsets->size() / offset_entry_size;
    bool consistent =
        offsets->size() % offset_entry_size == 0 && times->size() == n * time_entry_size;
    std::vector<index_entry> loaded;
    for (size_t i = 0; consistent && i < n; ++i) {
        const uint8_t* o = offsets->data() + i * offset_entry_size;
        const uint8_t* t = times->data() + i * time_entry_size;
        index_entry e{_segment_base + static_cast<int64_t>(big_endian::load(o, 4)),
                      static_cast<uint32_t>(big_endian::load(o + 4, 4)),
                      static_cast<int64_t>(big_endian::load(t, 8))};
        bool same_offset =
            static_cast<int64_t>(big_endian::load(t + 8, 4)) + _segment_base == e.base_offset;
        bool ordered = loaded.empty() || (e.base_offset > loaded.back().base_offset &&
                                          e.position > loaded.back().position &&
                                          e.max_timestamp >= loaded.back().max_timestamp);
        consistent = same_offset && ordered && e.position < segment_size;
        loaded.push_back(e);
    }
    if (!consistent) {
        TRIB_TRY(clear());
        return false;
    }
    _entries = std::move(loaded);
    if (!_entries.empty()) _max_timestamp = _entries.back().max_timestamp;
    return true;
}

status segment_index::on_batch(int64_t base_offset, uint32_t position, uint32_t size,
                               int64_t max_timestamp) {
    _max_timestamp = std::max(_max_timestamp, max_timestamp);
    bool due = _entries.empty() || _bytes_since_entry >= _interval_bytes;
    _bytes_since_entry += size;
    if (!due) return {};
    _bytes_since_entry = size;
    index_entry e{base_offset, position, _max_timestamp};
    _entries.push_back(e);
    return write_entry(e);
}

status segment_index::write_entry(const index_entry& e) {
    std::array<uint8_t, offset_entry_size> o{};
    std::array<uint8_t, time_entry_size> t{};
    auto relative = static_cast<uint64_t>(e.base_offset - _segment_base);
    big_endian::store(o.data(), relative, 4);
    big_endian::store(o.data() + 4, e.position, 4);
    big_endian::store(t.data(), static_cast<uint64_t>(e.max_timestamp), 8);
    big_endian::store(t.data() + 8, relative, 4);
    size_t i = _entries.size() - 1;
    TRIB_TRY(_offset_file.write_at(i * offset_entry_size, o));
    return _time_file.write_at(i * time_entry_size, t);
}

std::optional<index_entry> segment_index::floor_offset(int64_t offset) const {
    auto it = std::upper_bound(_entries.begin(), _entries.end(), offset,
                               [](int64_t o, const index_entry& e) { return o < e.base_offset; });
    if (it == _entries.begin()) return std::nullopt;
    return *std::prev(it);
}

std::optional<index_entry> segment_index::before_timestamp(int64_t timestamp) const {
    auto it =
        std::lower_bound(_entries.begin(), _entries.end(), timestamp,
                         [](const index_entry& e, int64_t ts) { return e.max_timestamp < ts; });
    if (it == _entries.begin()) return std::nullopt;
    return *std::prev(it);
}

status segment_index::truncate_from(uint32_t position) {
    auto it = std::lower_bound(_entries.begin(), _entries.end(), position,
                               [](const index_entry& e, uint32_t pos) { return e.position < pos; });
    _entries.erase(it, _entries.end());
    _bytes_since_entry = _interval_bytes;  // the next batch gets an entry
    _max_timestamp = _entries.empty() ? -1 : _entries.back().max_timestamp;
    TRIB_TRY(_offset_file.truncate(_entries.size() * offset_entry_size));
    return _time_file.truncate(_entries.size() * time_entry_size);
}

status segment_index::clear() {
    _entries.clear();
    _bytes_since_entry = 0;
    _max_timestamp = -1;
    TRIB_TRY(_offset_file.truncate(0));
    return _time_file.truncate(0);
}

status segment_index::sync() const {
    TRIB_TRY(_offset_file.sync_data());
    return _time_file.sync_data();
}

}  // namespace trib::storage
