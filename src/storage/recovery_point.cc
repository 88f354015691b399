#include "storage/recovery_point.h"

#include <array>

#include "base/big_endian.h"
#include "model/crc32c.h"

namespace trib::storage {

namespace {

// A slot: magic u32, sequence u64, recovery point i64, reserved end i64, CRC-32C u32 of the
// 28 bytes before it; big-endian.
constexpr size_t slot_size = 32;
constexpr uint32_t magic = 0x54525250;  // "TRRP"

struct slot {
    uint64_t seq = 0;
    recovery_checkpoint value;
};

std::array<uint8_t, slot_size> encode(const slot& s) {
    std::array<uint8_t, slot_size> out{};
    big_endian::store(out.data(), magic, 4);
    big_endian::store(out.data() + 4, s.seq, 8);
    big_endian::store(out.data() + 12, static_cast<uint64_t>(s.value.recovery_point), 8);
    big_endian::store(out.data() + 20, static_cast<uint64_t>(s.value.reserved_end), 8);
    big_endian::store(out.data() + 28, model::crc32c(std::span(out).first(28)), 4);
    return out;
}

bool decode(std::span<const uint8_t> in, slot& out) {
    if (big_endian::load(in.data(), 4) != magic) return false;
    if (big_endian::load(in.data() + 28, 4) != model::crc32c(in.first(28))) return false;
    out.seq = big_endian::load(in.data() + 4, 8);
    out.value.recovery_point = static_cast<int64_t>(big_endian::load(in.data() + 12, 8));
    out.value.reserved_end = static_cast<int64_t>(big_endian::load(in.data() + 20, 8));
    return out.value.recovery_point >= 0 && out.value.reserved_end >= 0;
}

}  // namespace

result<recovery_point_file> recovery_point_file::open(const std::filesystem::path& dir) {
    auto f = file::open(dir / name, true);
    if (!f) return unexpected(f.error());
    auto size = f->size();
    if (!size) return unexpected(size.error());
    slot newest;
    bool found = false;
    std::array<uint8_t, slot_size> buf{};
    for (uint64_t i = 0; i < 2 && (i + 1) * slot_size <= *size; ++i) {
        TRIB_TRY(f->read_at(i * slot_size, buf));
        slot s;
        if (decode(buf, s) && (!found || s.seq > newest.seq)) {
            newest = s;
            found = true;
        }
    }
    return recovery_point_file(dir / name, newest.value, newest.seq);
}

status recovery_point_file::write(const recovery_checkpoint& next) {
    slot s{_seq + 1, next};
    auto f = file::open(_path, true);
    if (!f) return unexpected(f.error());
    TRIB_TRY(f->write_at((s.seq % 2) * slot_size, encode(s)));
    TRIB_TRY(f->sync_data());
    _seq = s.seq;
    _current = next;
    return {};
}

}  // namespace trib::storage
