#include "cluster/offset_translator.h"

#include <algorithm>

#include "base/assert.h"
#include "base/byte_io.h"

namespace trib::cluster {

namespace {

constexpr uint32_t snapshot_magic = 0x544f5431;  // "TOT1"

}  // namespace

void offset_translator::reset(int64_t start, int64_t internal_below) {
    _start = start;
    _base = internal_below;
    _internal.clear();
}

void offset_translator::add_internal(int64_t base, int64_t last) {
    TRIB_ASSERT_MSG(
        base <= last && base >= _start && (_internal.empty() || base > _internal.back().second),
        "internal batch [{}, {}] out of order", base, last);
    _internal.emplace_back(base, last);
}

void offset_translator::truncate(int64_t raft_offset) {
    while (!_internal.empty() && _internal.back().second >= raft_offset) {
        TRIB_ASSERT_MSG(_internal.back().first >= raft_offset, "cut inside internal batch at {}",
                        raft_offset);
        _internal.pop_back();
    }
}

int64_t offset_translator::internal_below(int64_t raft) const {
    int64_t count = _base;
    for (const auto& [base, last] : _internal) {
        if (base >= raft) break;
        count += std::min(last, raft - 1) - base + 1;
    }
    return count;
}

int64_t offset_translator::to_kafka(int64_t raft) const {
    return raft - internal_below(raft);
}

int64_t offset_translator::to_raft(int64_t kafka) const {
    // Walk up from the position it would have without internal batches after the start.
    int64_t raft = kafka + _base;
    for (const auto& [base, last] : _internal) {
        if (base > raft) break;
        raft += last - base + 1;
    }
    return raft;
}

std::vector<uint8_t> offset_translator::encode_snapshot(const snapshot_payload& p) {
    std::vector<uint8_t> out;
    byte_writer w(out);
    w.u32(snapshot_magic);
    w.i64(p.internal_below);
    w.i64(p.log_start);
    return out;
}

std::optional<snapshot_payload> offset_translator::decode_snapshot(std::span<const uint8_t> bytes) {
    byte_reader r(bytes);
    bool magic = r.u32() == snapshot_magic;
    snapshot_payload p{.internal_below = r.i64(), .log_start = r.i64()};
    if (!magic || !r.ok() || !r.done() || p.internal_below < 0 || p.log_start < 0) {
        return std::nullopt;
    }
    return p;
}

}  // namespace trib::cluster
