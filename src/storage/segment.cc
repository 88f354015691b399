#include "storage/segment.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/big_endian.h"
#include "model/record_batch.h"
#include "storage/errc.h"

namespace trib::storage {

namespace {

constexpr size_t read_chunk = 1 << 20;

// Reads a segment file sequentially from a position, one verified batch at a time, through a
// buffer (a batch larger than the buffer is read whole).
class batch_cursor {
  public:
    enum class outcome { batch, end, torn, corrupt };

    batch_cursor(const file& f, uint64_t file_size, uint64_t position)
        : _file(f), _file_size(file_size), _pos(position) {}

    result<outcome> next() {
        if (_pos >= _file_size) return outcome::end;
        uint64_t left = _file_size - _pos;
        if (left < model::batch_header_size) return outcome::torn;
        TRIB_TRY(fill(model::batch_header_size));
        auto header = model::parse_batch_header(window(model::batch_header_size));
        if (!header && header.error() != model::errc::truncated) return outcome::corrupt;
        // parse_batch_header reports `truncated` for a length past the window; decide with the
        // length itself whether the batch runs past the end of the file.
        uint64_t size = model::batch_length_overhead +
                        static_cast<uint32_t>(load_length(window(model::batch_header_size)));
        if (size < model::batch_header_size) return outcome::corrupt;
        if (size > left) return outcome::torn;
        TRIB_TRY(fill(size));
        auto verified = model::verify_batch(window(size));
        if (!verified) return outcome::corrupt;
        _header = *verified;
        _current = window(size);
        _current_pos = _pos;
        _pos += size;
        return outcome::batch;
    }

    void seek(uint64_t position) { _pos = position; }
    const model::batch_header& header() const { return _header; }
    std::span<const uint8_t> current() const { return _current; }
    uint64_t current_position() const { return _current_pos; }
    uint64_t position() const { return _pos; }

  private:
    static int32_t load_length(std::span<const uint8_t> h) {
        return static_cast<int32_t>(big_endian::load(h.data() + 8, 4));
    }
    std::span<const uint8_t> window(size_t n) const {
        return std::span<const uint8_t>(_buf).subspan(_pos - _buf_start, n);
    }
    // Makes [_pos, _pos + n) present in the buffer.
    status fill(size_t n) {
        if (_pos >= _buf_start && _pos + n <= _buf_start + _buf.size()) return {};
        size_t want =
            std::max(n, static_cast<size_t>(std::min<uint64_t>(read_chunk, _file_size - _pos)));
        _buf.resize(want);
        _buf_start = _pos;
        return _file.read_at(_pos, _buf);
    }

    const file& _file;
    uint64_t _file_size;
    uint64_t _pos;
    std::vector<uint8_t> _buf;
    uint64_t _buf_start = 0;
    model::batch_header _header;
    std::span<const uint8_t> _current;
    uint64_t _current_pos = 0;
};

batch_location location_of(const model::batch_header& h, uint64_t position) {
    return {h.base_offset, h.last_offset(), static_cast<uint32_t>(position),
            static_cast<uint32_t>(h.size_bytes()), h.max_timestamp};
}

}  // namespace

std::string segment::file_name(int64_t base_offset, const char* suffix) {
    return fmt::format("{:020d}{}", base_offset, suffix);
}

result<std::vector<int64_t>> segment::list_bases(const std::filesystem::path& dir) {
    std::vector<int64_t> bases;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        auto name = entry.path().filename().string();
        if (name.size() != 24 || !name.ends_with(".log")) continue;
        int64_t base = 0;
        auto [end, err] = std::from_chars(name.data(), name.data() + 20, base);
        if (err == std::errc() && end == name.data() + 20) bases.push_back(base);
    }
    if (ec) return unexpected(ec);
    std::sort(bases.begin(), bases.end());
    return bases;
}

segment::segment(std::filesystem::path dir, int64_t base_offset, uint32_t index_interval)
    : _dir(std::move(dir)),
      _log_path(_dir / file_name(base_offset, ".log")),
      _base_offset(base_offset),
      _next_offset(base_offset),
      _index(base_offset, index_interval) {}

result<std::unique_ptr<segment>> segment::open(const std::filesystem::path& dir,
                                               int64_t base_offset, uint32_t index_interval,
                                               bool recover, scan_result* scanned,
                                               int64_t recovery_point) {
    std::unique_ptr<segment> s(new segment(dir, base_offset, index_interval));
    auto f = file::open(s->_log_path, true);
    if (!f) return unexpected(f.error());
    s->_file = std::move(*f);
    auto size = s->_file.size();
    if (!size) return unexpected(size.error());
    if (*size > UINT32_MAX) return errc::corrupt_data;  // positions are 32-bit
    s->_size = *size;
    auto index_ok = s->_index.open(dir / file_name(base_offset, ".index"),
                                   dir / file_name(base_offset, ".timeindex"), s->_size);
    if (!index_ok) return unexpected(index_ok.error());
    result<scan_result> scan = scan_result{};
    if (recover || !*index_ok) {
        TRIB_TRY(s->_index.clear());
        scan = s->scan_from(0, true, recover, recovery_point);
    } else if (!s->_index.entries().empty()) {
        const auto& last = s->_index.entries().back();
        s->_max_timestamp = last.max_timestamp;
        s->_next_offset = last.base_offset;
        scan = s->scan_from(last.position, false, false);
    }
    if (!scan) return unexpected(scan.error());
    if (scanned) *scanned = *scan;
    return s;
}

// Walks batches from `position` to the end, learning the end offset and max timestamp.
// `rebuild_index` re-adds index entries. Without `recover` a batch that is torn or does not
// verify is corruption. With it (the active segment at open), such a batch is a torn tail, and
// is cut, only if its offset is at or above the recovery point (it may never have been synced)
// and no verifying batch follows it; otherwise it is damage: kept as it is, skipped, never
// served, and the scan goes on after it (PAR, FAST 2018: never truncate what may be committed).
result<scan_result> segment::scan_from(uint32_t position, bool rebuild_index, bool recover,
                                       int64_t recovery_point) {
    batch_cursor cursor(_file, _size, position);
    scan_result out;
    for (;;) {
        if (const auto* d = damage_at(cursor.position())) {  // known damage: hop over it
            cursor.seek(cursor.position() + d->size);
            _next_offset = std::max(_next_offset, d->next_offset);
            continue;
        }
        auto step = cursor.next();
        if (!step) return unexpected(step.error());
        if (*step == batch_cursor::outcome::end) break;
        // Where the valid prefix ends if this step is bad: a torn or corrupt batch leaves the
        // cursor at its start; a batch with a bad offset has already been stepped over.
        uint64_t bad_at = cursor.position();
        if (*step == batch_cursor::outcome::batch) {
            const auto& h = cursor.header();
            if (h.base_offset >= _next_offset) {  // offsets must increase
                if (rebuild_index) {
                    TRIB_TRY(_index.on_batch(
                        h.base_offset, static_cast<uint32_t>(cursor.current_position()),
                        static_cast<uint32_t>(h.size_bytes()), h.max_timestamp));
                }
                _next_offset = h.last_offset() + 1;
                _max_timestamp = std::max(_max_timestamp, h.max_timestamp);
                continue;
            }
            bad_at = cursor.current_position();
        }
        if (!recover) return errc::corrupt_data;
        auto resync = next_valid_batch(bad_at + 1, _next_offset);
        if (!resync) return unexpected(resync.error());
        if (!*resync && _next_offset >= recovery_point) {
            out.cut_bytes = _size - bad_at;
            TRIB_TRY(_file.truncate(bad_at));
            TRIB_TRY(_file.sync_data());
            _size = bad_at;
            out.truncated = true;
            break;
        }
        uint64_t until = *resync ? (*resync)->first : _size;
        damaged_range d{static_cast<uint32_t>(bad_at), static_cast<uint32_t>(until - bad_at),
                        _next_offset, *resync ? (*resync)->second : -1};
        _damage.push_back(d);
        out.damage.push_back(d);
        if (!*resync) break;
        _index.entry_at_next_batch();
        cursor.seek(until);
    }
    out.valid_bytes = _size;
    return out;
}

// Looks for a batch header at every byte from `from` (damaged bytes have no trustworthy
// length), checking the cheap fields first and the CRC only of candidates.
result<std::optional<std::pair<uint64_t, int64_t>>> segment::next_valid_batch(
    uint64_t from, int64_t min_offset) const {
    using found = std::optional<std::pair<uint64_t, int64_t>>;
    constexpr size_t window = 1 << 20;
    std::vector<uint8_t> buf;
    std::vector<uint8_t> candidate;
    for (uint64_t start = from; start + model::batch_header_size <= _size;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(window, _size - start));
        buf.resize(n);
        TRIB_TRY(_file.read_at(start, buf));
        size_t last = n - model::batch_header_size;
        for (size_t i = 0; i <= last; ++i) {
            const uint8_t* h = buf.data() + i;
            if (h[16] != 2) continue;  // magic
            uint64_t size = model::batch_length_overhead + big_endian::load(h + 8, 4);
            uint64_t pos = start + i;
            if (size < model::batch_header_size || size > _size - pos) continue;
            auto base = static_cast<int64_t>(big_endian::load(h, 8));
            if (base < min_offset) continue;
            candidate.resize(size);
            TRIB_TRY(_file.read_at(pos, candidate));
            if (model::verify_batch(candidate)) return found(std::pair(pos, base));
        }
        start += last + 1;
    }
    return found();
}

const damaged_range* segment::damage_at(uint64_t position) const {
    for (const auto& d : _damage) {
        if (d.position == position) return &d;
    }
    return nullptr;
}

status segment::append(std::span<const uint8_t> batch, int64_t base_offset, int64_t last_offset,
                       int64_t max_timestamp) {
    TRIB_ASSERT(base_offset >= _next_offset);
    TRIB_ASSERT(_size + batch.size() <= UINT32_MAX);
    auto position = static_cast<uint32_t>(_size);
    TRIB_TRY(_file.write_at(_size, batch));
    _size += batch.size();
    _unsynced = true;
    _next_offset = last_offset + 1;
    _max_timestamp = std::max(_max_timestamp, max_timestamp);
    return _index.on_batch(base_offset, position, static_cast<uint32_t>(batch.size()),
                           max_timestamp);
}

status segment::for_each_batch(
    uint32_t from_position,
    const std::function<bool(const batch_location&, std::span<const uint8_t>)>& visit) const {
    batch_cursor cursor(_file, _size, from_position);
    for (;;) {
        auto step = cursor.next();
        if (!step) return unexpected(step.error());
        if (*step == batch_cursor::outcome::end) return {};
        if (*step != batch_cursor::outcome::batch) return errc::corrupt_data;
        if (!visit(location_of(cursor.header(), cursor.current_position()), cursor.current())) {
            return {};
        }
    }
}

// Hops from batch header to batch header (no CRC: the caller reads and verifies the batch it
// wants) until `stop` accepts one; nullopt at the end of the segment.
result<std::optional<batch_location>> segment::find_header(
    uint32_t from_position,
    const std::function<bool(const batch_location&, const model::batch_header&)>& stop) const {
    uint64_t pos = from_position;
    std::array<uint8_t, model::batch_header_size> header{};
    while (pos < _size) {
        if (const auto* d = damage_at(pos)) {  // its length cannot be trusted: hop over it
            pos += d->size;
            continue;
        }
        if (_size - pos < header.size()) return errc::corrupt_data;
        TRIB_TRY(_file.read_at(pos, header));
        auto h = model::parse_batch_header(header);
        if (!h && h.error() != model::errc::truncated) return errc::corrupt_data;
        uint64_t size = model::batch_length_overhead +
                        static_cast<uint32_t>(big_endian::load(header.data() + 8, 4));
        if (size < header.size() || size > _size - pos) return errc::corrupt_data;
        // A header alone is "truncated" for any batch with records: take its fields directly.
        model::batch_header fields = model::header_fields(header);
        if (fields.last_offset_delta < 0) return errc::corrupt_data;
        auto loc = location_of(fields, pos);
        if (stop(loc, fields)) return std::optional<batch_location>(loc);
        pos += size;
    }
    return std::optional<batch_location>();
}

status segment::for_each_header(
    const std::function<void(const model::batch_header&)>& visit) const {
    auto done = find_header(0, [&](const batch_location&, const model::batch_header& h) {
        visit(h);
        return false;
    });
    if (!done) return unexpected(done.error());
    return {};
}

result<std::optional<batch_location>> segment::find(int64_t offset) const {
    auto start = _index.floor_offset(offset);
    return find_header(start ? start->position : 0,
                       [&](const batch_location& loc, const model::batch_header&) {
                           return loc.last_offset >= offset;
                       });
}

result<std::optional<batch_location>> segment::find_timestamp(int64_t timestamp) const {
    if (_max_timestamp < timestamp) return std::optional<batch_location>();
    auto start = _index.before_timestamp(timestamp);
    return find_header(start ? start->position : 0,
                       [&](const batch_location& loc, const model::batch_header&) {
                           return loc.max_timestamp >= timestamp;
                       });
}

// Reads the stretch with one pread straight into `out`, then keeps the whole batches that
// verify, fit and lie before `max_offset`.
status segment::read(const batch_location& from, size_t max_bytes, int64_t max_offset,
                     first_batch first, std::vector<uint8_t>& out, int64_t& next_offset) const {
    if (from.base_offset >= max_offset) return {};
    size_t start = out.size();
    uint64_t limit = start == 0 && first == first_batch::whole
                         ? std::max<size_t>(max_bytes, from.size)
                         : max_bytes;
    uint64_t want = std::min<uint64_t>(_size - from.position, limit);
    if (want < from.size) return {};  // the first batch does not fit
    out.resize(start + want);
    if (auto st = _file.read_at(from.position, std::span(out).subspan(start)); !st) {
        out.resize(start);
        return st;
    }
    size_t kept = 0;
    while (kept < want) {
        auto rest = std::span<const uint8_t>(out).subspan(start + kept);
        auto h = model::verify_batch(rest);
        if (!h && kept > 0 && h.error() == model::errc::truncated) break;  // the budget's end
        if (!h) {
            // Corruption is never served: the verified batches before it are.
            if (kept > 0) break;
            out.resize(start);
            return errc::corrupt_data;
        }
        if (h->base_offset >= max_offset) break;
        kept += h->size_bytes();
        next_offset = h->last_offset() + 1;
    }
    out.resize(start + kept);
    return {};
}

status segment::truncate(int64_t offset) {
    // Where damage begins is a boundary too: its first byte (the repair of a replica's log
    // cuts there, and its offset may be the segment's end when the damage ends the file).
    auto damaged = std::find_if(_damage.begin(), _damage.end(),
                                [&](const damaged_range& d) { return d.first_offset == offset; });
    if (offset >= _next_offset && damaged == _damage.end()) return {};
    uint32_t cut = 0;
    bool at_boundary = offset <= _base_offset;
    if (damaged != _damage.end()) {
        cut = damaged->position;
    } else if (!at_boundary) {
        auto loc = find(offset);
        if (!loc) return unexpected(loc.error());
        if (!*loc || (*loc)->base_offset != offset) return errc::not_a_batch_boundary;
        cut = (*loc)->position;
    }
    TRIB_TRY(_file.truncate(cut));
    TRIB_TRY(_file.sync_data());
    _size = cut;
    // Damage past the cut is gone; damage that now ends the file is followed by `offset`.
    std::erase_if(_damage, [&](const damaged_range& d) { return d.position >= cut; });
    for (auto& d : _damage) {
        if (d.position + d.size == cut) d.next_offset = offset;
    }
    TRIB_TRY(_index.truncate_from(cut));
    // Relearn the end and the max timestamp from the last index entry on.
    _next_offset = _base_offset;
    _max_timestamp = -1;
    uint32_t from = 0;
    if (!_index.entries().empty()) {
        from = _index.entries().back().position;
        _next_offset = _index.entries().back().base_offset;
        _max_timestamp = _index.entries().back().max_timestamp;
    }
    auto scan = scan_from(from, false, false);
    if (!scan) return unexpected(scan.error());
    return {};
}

status segment::sync_files() const {
    TRIB_TRY(_file.sync_data());
    return _index.sync();
}

status segment::remove() {
    for (const char* suffix : {".log", ".index", ".timeindex"}) {
        TRIB_TRY(io::current().remove(_dir / file_name(_base_offset, suffix)));
    }
    return {};
}

}  // namespace trib::storage
