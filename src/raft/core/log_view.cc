#include "raft/core/log_view.h"

#include <algorithm>

#include "base/assert.h"

namespace trib::raft {

log_view::log_view(stable_log& stable)
    : _stable(stable),
      _snapshot(stable.snapshot()),
      _stable_last(stable.last_offset()),
      _handed_last(_stable_last) {}

offset_t log_view::last_offset() const {
    return _unstable.empty() ? _stable_last : _unstable.back().last_offset;
}

term_t log_view::last_term() const {
    return term_at(last_offset());
}

const entry* log_view::unstable_at(offset_t offset) const {
    auto it = std::lower_bound(_unstable.begin(), _unstable.end(), offset,
                               [](const entry& e, offset_t o) { return e.last_offset < o; });
    if (it == _unstable.end() || it->base_offset > offset) {
        return nullptr;
    }
    return &*it;
}

result<entry_position> log_view::position_of(offset_t offset) const {
    if (offset == _snapshot.last_offset) {
        return entry_position{offset, offset, _snapshot.last_term};
    }
    if (offset < start_offset() || offset > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    if (offset > _stable_last) {
        const entry* e = unstable_at(offset);
        TRIB_ASSERT_MSG(e != nullptr, "unstable entries do not cover offset {}", offset);
        return entry_position{e->base_offset, e->last_offset, e->term};
    }
    return _stable.position_of(offset);
}

term_t log_view::term_at(offset_t offset) const {
    TRIB_ASSERT_MSG(offset >= start_offset() - 1 && offset <= last_offset(),
                    "no term for offset {} (log {}..{})", offset, start_offset(), last_offset());
    if (offset == _snapshot.last_offset) {
        return _snapshot.last_term;
    }
    if (offset > _stable_last) {
        const entry* e = unstable_at(offset);
        TRIB_ASSERT_MSG(e != nullptr, "unstable entries do not cover offset {}", offset);
        return e->term;
    }
    return _stable.term_of(offset);
}

bool log_view::matches(offset_t offset, term_t term) const {
    // Equal terms at an offset mean the same batch (one leader per term wrote both), so the
    // offset is a batch end here too whenever it is one where it came from.
    return offset >= start_offset() - 1 && offset <= last_offset() && term_at(offset) == term;
}

result<std::vector<entry>> log_view::entries(offset_t from, offset_t last, size_t max_bytes) const {
    if (from < start_offset() || from > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    last = std::min(last, last_offset());
    std::vector<entry> out;
    size_t bytes = 0;
    if (from <= _stable_last) {
        auto stable = _stable.entries(from, std::min(last, _stable_last), max_bytes);
        if (!stable) {
            return stable;
        }
        out = std::move(*stable);
        for (const entry& e : out) {
            bytes += e.size();
        }
        if (out.empty() || out.back().last_offset < std::min(last, _stable_last)) {
            return out;  // the byte limit stopped it
        }
        from = out.back().last_offset + 1;
    }
    for (const entry* e = unstable_at(from);
         e != nullptr && e != _unstable.data() + _unstable.size(); ++e) {
        if (e->last_offset > last || (!out.empty() && bytes + e->size() > max_bytes)) {
            break;
        }
        bytes += e->size();
        out.push_back(*e);
    }
    return out;
}

void log_view::append(std::vector<entry> entries) {
    if (entries.empty()) {
        return;
    }
    offset_t first = entries.front().base_offset;
    TRIB_ASSERT_MSG(first >= start_offset() && first <= last_offset() + 1,
                    "append at {} to a log holding {}..{}", first, start_offset(), last_offset());
    if (first <= last_offset()) {
        // A divergent suffix goes; it must start at a batch boundary of ours.
        if (first <= _stable_last) {
            _unstable.clear();
            _stable_last = first - 1;
        } else {
            while (!_unstable.empty() && _unstable.back().base_offset >= first) {
                _unstable.pop_back();
            }
        }
        _handed_last = std::min(_handed_last, first - 1);
        TRIB_ASSERT_MSG(last_offset() == first - 1, "truncation at {} inside a batch", first);
    }
    for (entry& e : entries) {
        TRIB_ASSERT_MSG(e.base_offset == last_offset() + 1 && e.last_offset >= e.base_offset,
                        "entry {}..{} does not follow {}", e.base_offset, e.last_offset,
                        last_offset());
        TRIB_ASSERT_MSG(e.term >= last_term(), "entry term {} below the log's last term {}", e.term,
                        last_term());
        _unstable.push_back(std::move(e));
    }
}

void log_view::restore(const raft::snapshot& snap) {
    _snapshot = snap;
    _pending_snapshot = snap;
    _unstable.clear();
    _stable_last = snap.last_offset;
    _handed_last = snap.last_offset;
}

void log_view::compacted(const raft::snapshot& snap) {
    if (snap.last_offset <= _snapshot.last_offset) {
        return;
    }
    TRIB_ASSERT_MSG(snap.last_offset <= _stable_last,
                    "compaction through {} past the durable log end {}", snap.last_offset,
                    _stable_last);
    _snapshot = snap;
}

std::vector<entry> log_view::take_unhanded() {
    std::vector<entry> out;
    offset_t after = std::max(_handed_last, _stable_last);
    for (const entry* e = unstable_at(after + 1);
         e != nullptr && e != _unstable.data() + _unstable.size(); ++e) {
        out.push_back(*e);
    }
    if (!out.empty()) {
        _handed_last = out.back().last_offset;
    }
    return out;
}

std::optional<raft::snapshot> log_view::take_pending_snapshot() {
    auto s = std::move(_pending_snapshot);
    _pending_snapshot.reset();
    return s;
}

void log_view::persisted(const std::vector<entry>& written) {
    for (const entry& w : written) {
        if (w.base_offset != _stable_last + 1) {
            break;
        }
        const entry* mine = unstable_at(w.base_offset);
        if (mine == nullptr || mine->term != w.term || mine->last_offset != w.last_offset ||
            mine->batch != w.batch) {
            break;  // replaced since it was handed out: the next ready writes the new one
        }
        _stable_last = w.last_offset;
    }
    auto keep = std::find_if(_unstable.begin(), _unstable.end(),
                             [&](const entry& e) { return e.base_offset > _stable_last; });
    _unstable.erase(_unstable.begin(), keep);
}

}  // namespace trib::raft
