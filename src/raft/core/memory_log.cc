#include "raft/core/memory_log.h"

#include <algorithm>

#include "base/assert.h"
#include "model/record_batch.h"

namespace trib::raft {

memory_log::memory_log(configuration bootstrap) {
    _durable_state.snap.config = std::move(bootstrap);
    _volatile_state = _durable_state;
}

raft::snapshot memory_log::snapshot() const {
    return _volatile_state.snap;
}

offset_t memory_log::last_offset() const {
    const auto& img = _volatile_state;
    return img.log.empty() ? img.snap.last_offset : img.log.back().last_offset;
}

size_t memory_log::index_of(offset_t offset) const {
    const auto& log = _volatile_state.log;
    auto it = std::lower_bound(log.begin(), log.end(), offset,
                               [](const entry& e, offset_t o) { return e.last_offset < o; });
    TRIB_ASSERT_MSG(it != log.end() && it->base_offset <= offset, "offset {} not in the log",
                    offset);
    return static_cast<size_t>(it - log.begin());
}

term_t memory_log::term_of(offset_t offset) const {
    const auto& img = _volatile_state;
    if (offset == img.snap.last_offset) {
        return img.snap.last_term;
    }
    return img.log[index_of(offset)].term;
}

result<entry_position> memory_log::position_of(offset_t offset) const {
    const auto& img = _volatile_state;
    if (offset == img.snap.last_offset) {
        return entry_position{offset, offset, img.snap.last_term};
    }
    if (offset <= img.snap.last_offset || offset > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    const entry& e = img.log[index_of(offset)];
    return entry_position{e.base_offset, e.last_offset, e.term};
}

result<std::vector<entry>> memory_log::entries(offset_t from, offset_t last,
                                               size_t max_bytes) const {
    if (from <= _volatile_state.snap.last_offset || from > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    const auto& log = _volatile_state.log;
    size_t i = index_of(from);
    TRIB_ASSERT_MSG(log[i].base_offset == from, "{} is not a batch boundary", from);
    std::vector<entry> out;
    size_t bytes = 0;
    for (; i < log.size() && log[i].last_offset <= last; ++i) {
        if (!out.empty() && bytes + log[i].size() > max_bytes) {
            break;
        }
        bytes += log[i].size();
        out.push_back(log[i]);
    }
    return out;
}

std::vector<std::pair<offset_t, configuration>> memory_log::configs() const {
    std::vector<std::pair<offset_t, configuration>> out;
    for (const entry& e : _volatile_state.log) {
        if (e.kind == entry_kind::config) {
            auto c = config_of(e);
            TRIB_ASSERT_MSG(c.has_value(), "a stored config entry does not parse");
            out.emplace_back(e.base_offset, std::move(*c));
        }
    }
    return out;
}

void memory_log::apply(image& img, const op& o) {
    switch (o.what) {
        case op::kind::hard:
            img.hard = o.hard;
            break;
        case op::kind::snapshot:
            img.snap = o.snap;
            img.log.clear();
            break;
        case op::kind::truncate:
            while (!img.log.empty() && img.log.back().base_offset >= o.offset) {
                img.log.pop_back();
            }
            break;
        case op::kind::append: {
            offset_t last = img.log.empty() ? img.snap.last_offset : img.log.back().last_offset;
            // A torn write leaves a batch that fails its CRC; recovery drops it and all after.
            if (o.e.base_offset == last + 1 &&
                (!o.torn || model::verify_batch(o.e.bytes()).has_value())) {
                img.log.push_back(o.e);
            }
            break;
        }
        case op::kind::compact:
            if (o.snap.last_offset > img.snap.last_offset) {
                auto kept = std::find_if(img.log.begin(), img.log.end(), [&](const entry& e) {
                    return e.last_offset > o.snap.last_offset;
                });
                img.log.erase(img.log.begin(), kept);
                img.snap = o.snap;
            }
            break;
    }
}

void memory_log::record(op o) {
    apply(_volatile_state, o);
    _unsynced.push_back(std::move(o));
}

void memory_log::write(const ready& rd) {
    if (rd.hard_state) {
        record({.what = op::kind::hard, .hard = *rd.hard_state});
    }
    if (rd.snapshot) {
        record({.what = op::kind::snapshot, .snap = *rd.snapshot});
    }
    if (!rd.entries.empty()) {
        record({.what = op::kind::truncate, .offset = rd.entries.front().base_offset});
        for (const entry& e : rd.entries) {
            record({.what = op::kind::append, .e = e});
        }
    }
}

void memory_log::compact(const raft::snapshot& snap) {
    record({.what = op::kind::compact, .snap = snap});
}

void memory_log::sync() {
    for (const op& o : _unsynced) {
        apply(_durable_state, o);
    }
    _unsynced.clear();
}

void memory_log::crash(uint64_t seed, bool tear) {
    size_t reached = _unsynced.empty() ? 0 : seed % (_unsynced.size() + 1);
    for (size_t i = 0; i < reached; ++i) {
        apply(_durable_state, _unsynced[i]);
    }
    if (tear && reached < _unsynced.size() && _unsynced[reached].what == op::kind::append) {
        op torn = _unsynced[reached];
        auto bytes = std::make_shared<std::vector<uint8_t>>(*torn.e.batch);
        bytes->resize(bytes->size() / 2 + 1);
        torn.e.batch = std::move(bytes);
        torn.torn = true;
        apply(_durable_state, torn);
    }
    _unsynced.clear();
    _volatile_state = _durable_state;
}

void memory_log::repair_damage(size_t first) {
    TRIB_ASSERT_MSG(_unsynced.empty(), "damage is repaired at open, with nothing unsynced");
    image& d = _durable_state;
    if (first >= d.log.size()) {
        return;
    }
    d.hard.lost_through = std::max(d.hard.lost_through, d.log.back().last_offset);
    d.hard.lost_in_term = std::max(d.hard.lost_in_term, d.hard.term);
    d.log.resize(first);
    _volatile_state = d;
}

}  // namespace trib::raft
