#include "cluster/producer_state.h"

#include <algorithm>
#include <limits>

namespace trib::cluster {

namespace {

int32_t next_sequence(int32_t s) {
    return s == std::numeric_limits<int32_t>::max() ? 0 : s + 1;
}

}  // namespace

int32_t last_sequence_of(const model::batch_header& h) {
    // From lastOffsetDelta, not the record count: compaction removes records but keeps it.
    int64_t last = int64_t{h.base_sequence} + h.last_offset_delta;
    constexpr int64_t wrap = int64_t{std::numeric_limits<int32_t>::max()} + 1;
    return static_cast<int32_t>(last % wrap);
}

sequence_check producer_state::check(const model::batch_header& h) const {
    auto it = _producers.find(h.producer_id);
    if (it == _producers.end()) {
        // A producer's first batch starts at sequence 0; anything else means its state was
        // lost (retention removed its batches): the client must reset its sequence.
        if (h.base_sequence != 0) return {sequence_verdict::unknown_producer};
        return {sequence_verdict::append};
    }
    const producer& p = it->second;
    if (h.producer_epoch < p.epoch) return {sequence_verdict::invalid_epoch};
    if (h.producer_epoch > p.epoch) {
        // A new epoch (the client bumped it) restarts the sequence.
        if (h.base_sequence != 0) return {sequence_verdict::out_of_order};
        return {sequence_verdict::append};
    }
    int32_t last = last_sequence_of(h);
    for (const auto& b : p.recent) {
        if (b.first_sequence == h.base_sequence && b.last_sequence == last) {
            return {sequence_verdict::duplicate, b.base_offset, b.last_offset};
        }
    }
    if (p.recent.empty()) {
        return h.base_sequence == 0 ? sequence_check{sequence_verdict::append}
                                    : sequence_check{sequence_verdict::out_of_order};
    }
    if (h.base_sequence != next_sequence(p.recent.back().last_sequence)) {
        return {sequence_verdict::out_of_order};
    }
    return {sequence_verdict::append};
}

void producer_state::record(const model::batch_header& h, int64_t base_offset, int64_t last_offset,
                            int64_t now_ms) {
    if (h.producer_id < 0) return;
    if (++_since_sweep >= sweep_every) {
        _since_sweep = 0;
        expire(now_ms);
    }
    producer& p = _producers[h.producer_id];
    p.last_seen_ms = std::max(p.last_seen_ms, now_ms);
    if (h.producer_epoch != p.epoch) {
        p.epoch = h.producer_epoch;
        p.recent.clear();
    }
    p.recent.push_back({h.base_sequence, last_sequence_of(h), base_offset, last_offset});
    if (p.recent.size() > cached_batches) p.recent.pop_front();
}

size_t producer_state::expire(int64_t now_ms) {
    return std::erase_if(
        _producers, [&](const auto& e) { return now_ms - e.second.last_seen_ms > _expiration_ms; });
}

size_t producer_state::forget_before(int64_t log_start) {
    for (auto& [id, p] : _producers) {
        while (!p.recent.empty() && p.recent.front().last_offset < log_start)
            p.recent.pop_front();
    }
    return std::erase_if(_producers, [](const auto& e) { return e.second.recent.empty(); });
}

}  // namespace trib::cluster
