#include "cluster/leaders.h"

#include "base/byte_io.h"

namespace trib::cluster {

namespace {

constexpr uint8_t announcement_version = 1;
constexpr size_t max_replicas = 64;

}  // namespace

std::vector<uint8_t> encode_announcements(std::span<const leader_announcement> items) {
    std::vector<uint8_t> out;
    byte_writer w(out);
    w.u8(announcement_version);
    w.u32(static_cast<uint32_t>(items.size()));
    for (const auto& a : items) {
        w.u64(a.group);
        w.i32(a.leader);
        w.i64(a.term);
        w.u8(static_cast<uint8_t>(a.in_sync.size()));
        for (int32_t r : a.in_sync) {
            w.i32(r);
        }
    }
    return out;
}

std::optional<std::vector<leader_announcement>> decode_announcements(
    std::span<const uint8_t> bytes) {
    byte_reader r(bytes);
    if (r.u8() != announcement_version) {
        return std::nullopt;
    }
    uint32_t count = r.u32();
    // Each item takes at least 21 bytes: a count beyond what is left is a lie.
    if (!r.ok() || count > r.remaining() / 21) {
        return std::nullopt;
    }
    std::vector<leader_announcement> out;
    out.reserve(count);
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
        leader_announcement a;
        a.group = r.u64();
        a.leader = r.i32();
        a.term = r.i64();
        size_t replicas = r.u8();
        if (replicas > max_replicas) {
            return std::nullopt;
        }
        for (size_t k = 0; k < replicas && r.ok(); ++k) {
            a.in_sync.push_back(r.i32());
        }
        out.push_back(std::move(a));
    }
    if (!r.ok() || !r.done()) {
        return std::nullopt;
    }
    return out;
}

void leader_table::learn(const leader_announcement& a) {
    std::lock_guard lock(_mutex);
    auto [it, inserted] = _by_group.try_emplace(a.group, a);
    if (!inserted && a.term >= it->second.term) {
        it->second = a;
    }
}

std::optional<leader_announcement> leader_table::find(uint64_t group) const {
    std::lock_guard lock(_mutex);
    auto it = _by_group.find(group);
    if (it == _by_group.end()) return std::nullopt;
    return it->second;
}

void leader_table::forget(uint64_t group) {
    std::lock_guard lock(_mutex);
    _by_group.erase(group);
}

}  // namespace trib::cluster
