#include "raft/log_store.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "base/assert.h"
#include "base/logging.h"
#include "model/crc32c.h"
#include "model/record_batch.h"
#include "raft/byte_io.h"
#include "storage/errc.h"
#include "storage/file.h"

namespace trib::raft {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t state_magic = 0x54525354;     // "TRST"
constexpr uint32_t snapshot_magic = 0x5452534e;  // "TRSN"

// The file's bytes without its CRC, or nullopt when missing; an error when it fails its CRC.
result<std::optional<std::vector<uint8_t>>, error> read_sealed(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return std::optional<std::vector<uint8_t>>{};
    }
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), {});
    if (data.size() < 10 || model::crc32c(std::span(data).first(data.size() - 4)) !=
                                big_endian::load(data.data() + data.size() - 4, 4)) {
        return unexpected(error{make_error_code(storage::errc::corrupt_data),
                                fmt::format("{} is corrupt (bad length or CRC)", path.string())});
    }
    data.resize(data.size() - 4);
    return std::optional(std::move(data));
}

// Appends the CRC-32C of everything before it and writes the file durably.
status write_sealed(const fs::path& path, std::vector<uint8_t> data) {
    uint32_t crc = model::crc32c(data);
    writer(data).u32(crc);
    return storage::write_file_durably(path, data);
}

}  // namespace

result<std::unique_ptr<log_store>, error> log_store::open(const fs::path& dir,
                                                          configuration bootstrap,
                                                          storage::log_config config,
                                                          const std::optional<fs::path>& log_dir,
                                                          damage_repair repair) {
    auto fail = [&](std::error_code ec, const std::string& what) {
        return unexpected(error{ec, fmt::format("raft store {}: {}", dir.string(), what)});
    };
    auto data = storage::log::open(log_dir.value_or(dir / "log"), config);
    if (!data) {
        return fail(data.error(), "cannot open the log: " + data.error().message());
    }
    (*data)->keep_emptied_batches();
    std::unique_ptr<log_store> s(new log_store(dir, std::move(*data)));
    s->_snap.config = std::move(bootstrap);

    // A crash between a state file's rename and its directory's fsync leaves the new file
    // visible but not durable: make what we are about to trust durable first.
    if (auto synced = storage::sync_directory(dir); !synced) {
        return fail(synced.error(), "cannot sync the directory");
    }
    auto state = read_sealed(dir / "raft_state");
    if (!state) {
        return unexpected(state.error());
    }
    if (*state) {
        reader r(**state);
        bool magic = r.u32() == state_magic;
        uint16_t version = r.u16();
        s->_hard.term = r.i64();
        s->_hard.voted_for = r.i32();
        if (version == 2) {
            s->_hard.lost_through = r.i64();
            s->_hard.lost_in_term = r.i64();
        }
        if (!magic || (version != 1 && version != 2) || !r.ok() || !r.done() || s->_hard.term < 0 ||
            (version == 2 && s->_hard.lost_through < 0)) {
            return fail(make_error_code(storage::errc::corrupt_data), "raft_state malformed");
        }
    }
    auto snap = read_sealed(dir / "raft_snapshot");
    if (!snap) {
        return unexpected(snap.error());
    }
    if (*snap) {
        reader r(**snap);
        bool magic = r.u32() == snapshot_magic && r.u16() == 1;
        raft::snapshot sn;
        sn.last_offset = r.i64();
        sn.last_term = r.i64();
        uint32_t voters = r.u32();
        for (uint32_t i = 0; r.ok() && i < voters; ++i) {
            sn.config.voters.push_back(r.i32());
        }
        sn.data = r.bytes();
        if (!magic || !r.ok() || !r.done() ||
            !std::is_sorted(sn.config.voters.begin(), sn.config.voters.end())) {
            return fail(make_error_code(storage::errc::corrupt_data), "raft_snapshot malformed");
        }
        s->_snap = std::move(sn);
    } else {
        // A new store: its first voters are kept, so a later start with other ones is seen.
        // Batches already there (written before replication, by this node alone, with
        // partitionLeaderEpoch 0) become entries of term 0 that the first leader commits;
        // retention may have moved the log's start, where the snapshot point goes.
        s->_snap.last_offset = s->_log->first_batch_offset() - 1;
        if (auto st = s->write_snapshot(s->_snap); !st) {
            return fail(st.error(), "cannot write raft_snapshot: " + st.error().message());
        }
    }
    if (repair == damage_repair::from_peers) {
        auto damage = s->_log->damage();
        auto cut = s->repair_damage();
        if (!cut) {
            return fail(cut.error(), "cannot drop the damaged log: " + cut.error().message());
        }
        if (*cut) {
            ::trib::log::get("raft")->error(
                "raft store {}: damaged log data (offsets {} to {}, bytes {} to {} of the active "
                "segment) dropped with all after it from offset {}; the group's leader sends it "
                "again, and until this replica holds through offset {} again it neither votes "
                "nor campaigns",
                dir.string(), damage.front().first_offset,
                damage.front().next_offset < 0 ? std::string("the end")
                                               : std::to_string(damage.front().next_offset - 1),
                damage.front().position, damage.front().position + damage.front().size, **cut,
                s->_hard.lost_through);
        }
    }
    if (auto st = s->index_log(); !st) {
        return fail(st.error(), "cannot index the log: " + st.error().message());
    }
    return s;
}

status log_store::write_state(const hard_state& hs) {
    std::vector<uint8_t> data;
    writer w(data);
    w.u32(state_magic);
    // Version 1 unless a loss is remembered, so an older binary still opens a healthy store.
    bool lost = hs.lost_through >= 0;
    w.u16(lost ? 2 : 1);
    w.i64(hs.term);
    w.i32(hs.voted_for);
    if (lost) {
        w.i64(hs.lost_through);
        w.i64(hs.lost_in_term);
    }
    TRIB_TRY(write_sealed(_dir / "raft_state", std::move(data)));
    _hard = hs;
    return {};
}

result<std::optional<offset_t>> log_store::repair_damage() {
    auto damage = _log->damage();
    if (damage.empty()) {
        return std::optional<offset_t>{};
    }
    const storage::damaged_range& first = damage.front();
    // The last offset this replica may have held: the log's end, or past every offset it was
    // ever given when the damage ends the file (its offsets there are unknown).
    offset_t held = damage.back().next_offset < 0 ? _log->checkpoint().reserved_end - 1
                                                  : _log->end_offset() - 1;
    offset_t cut = first.first_offset;
    if (cut <= _snap.last_offset) {
        cut = _log->first_batch_offset();  // all after the snapshot point goes
    }
    // Remembered durably before anything goes, so a crash in between cannot forget it.
    hard_state hs = _hard;
    hs.lost_through = std::max(hs.lost_through, held);
    hs.lost_in_term = std::max(hs.lost_in_term, hs.term);
    TRIB_TRY(write_state(hs));
    TRIB_TRY(_log->truncate(cut));
    return std::optional(cut);
}

void log_store::note_entry(const entry& e) {
    if (_terms.empty() || _terms.back().second != e.term) {
        _terms.emplace_back(e.base_offset, e.term);
    }
}

status log_store::index_log() {
    _terms.clear();
    _configs.clear();
    std::vector<model::batch_header> controls;
    bool snapshot_point_matches = false;  // the log holds the snapshot's last entry as is
    TRIB_TRY(_log->for_each_batch_header([&](const model::batch_header& h) {
        if (h.base_offset <= _snap.last_offset) {
            snapshot_point_matches =
                h.last_offset() == _snap.last_offset && h.partition_leader_epoch == _snap.last_term;
            return;
        }
        note_entry({.term = h.partition_leader_epoch, .base_offset = h.base_offset});
        if (h.is_control()) {
            controls.push_back(h);
        }
    }));
    // The log's start may lie inside a batch (DeleteRecords); entries are whole batches.
    offset_t first = _log->first_batch_offset();
    if (first - 1 > _snap.last_offset) {
        // Retention cut the log and the node stopped before the snapshot point followed (only
        // in data of a version before the snapshot point moved first): it
        // follows now, with the term of the first entry left (terms never go down, so no
        // entry before it had a higher one) and the payload it had.
        raft::snapshot sn = _snap;
        sn.last_offset = first - 1;
        sn.last_term = _terms.empty() ? _snap.last_term : _terms.front().second;
        TRIB_TRY(write_snapshot(sn));
    }
    if (first <= _snap.last_offset) {
        // A crash came between a snapshot's install and the log's cut. What follows the
        // snapshot point is ours only if the log holds that point's entry unchanged.
        if (snapshot_point_matches) {
            TRIB_TRY(_log->advance_start_offset(_snap.last_offset + 1));
        } else {
            TRIB_TRY(_log->truncate(first));
            _terms.clear();
            controls.clear();
        }
    }
    for (const auto& h : controls) {
        auto read = TRIB_TRY(_log->read(std::max(h.base_offset, _log->start_offset()),
                                        h.size_bytes(), h.last_offset() + 1));
        auto e = entry_from_verified_batch(
            std::make_shared<const std::vector<uint8_t>>(std::move(read.data)));
        if (!e) {
            return unexpected(e.error());
        }
        if (e->kind == entry_kind::config) {
            auto c = TRIB_TRY(config_of(*e));
            _configs.emplace_back(e->base_offset, std::move(c));
        }
    }
    return {};
}

offset_t log_store::last_offset() const {
    return std::max(_log->end_offset() - 1, _snap.last_offset);
}

term_t log_store::term_of(offset_t offset) const {
    if (offset == _snap.last_offset) {
        return _snap.last_term;
    }
    auto it = std::upper_bound(_terms.begin(), _terms.end(), offset,
                               [](offset_t o, const auto& t) { return o < t.first; });
    TRIB_ASSERT_MSG(it != _terms.begin(), "no term indexed for offset {}", offset);
    return std::prev(it)->second;
}

result<entry_position> log_store::position_of(offset_t offset) const {
    if (offset == _snap.last_offset) {
        return entry_position{offset, offset, _snap.last_term};
    }
    if (offset < _snap.last_offset || offset > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    offset_t from = std::max(offset, _log->start_offset());
    auto read = _log->read(from, model::batch_header_size, from + 1);
    if (!read || read->data.size() < model::batch_header_size) {
        return unexpected(read ? make_error_code(errc::offset_out_of_range) : read.error());
    }
    auto h = model::header_fields(read->data);
    return entry_position{h.base_offset, h.last_offset(), term_of(offset)};
}

result<std::vector<entry>> log_store::entries(offset_t from, offset_t last,
                                              size_t max_bytes) const {
    if (from <= _snap.last_offset || from > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    // The first entry may begin before the log's start (inside its batch): read from the start,
    // which returns that batch whole.
    auto read = TRIB_TRY(_log->read(std::max(from, _log->start_offset()), max_bytes, last + 1));
    std::vector<entry> out;
    model::batch_walker walk(read.data);
    while (true) {
        auto next = TRIB_TRY(walk.next());
        if (!next) {
            break;
        }
        auto bytes = walk.current();
        // storage::log::read verified each batch's CRC already.
        auto e = TRIB_TRY(entry_from_verified_batch(
            std::make_shared<const std::vector<uint8_t>>(bytes.begin(), bytes.end())));
        if (e.last_offset > last) {
            break;
        }
        out.push_back(std::move(e));
    }
    if (out.empty() || out.front().base_offset != from) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    return out;
}

status log_store::write_snapshot(const raft::snapshot& sn) {
    std::vector<uint8_t> data;
    writer w(data);
    w.u32(snapshot_magic);
    w.u16(1);
    w.i64(sn.last_offset);
    w.i64(sn.last_term);
    w.u32(static_cast<uint32_t>(sn.config.voters.size()));
    for (node_id v : sn.config.voters) {
        w.i32(v);
    }
    w.bytes(sn.data);
    TRIB_TRY(write_sealed(_dir / "raft_snapshot", std::move(data)));
    _snap = sn;
    return {};
}

result<raft::snapshot> log_store::compact(offset_t through, batch_bytes data) {
    auto at = TRIB_TRY(position_of(through));
    if (at.last_offset != through || through <= _snap.last_offset) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    // Durable first: a crash before the cut leaves a log that starts before its snapshot,
    // which open repairs (index_log).
    TRIB_TRY(snapshot_through(through, at.term, std::move(data)));
    TRIB_TRY(_log->advance_start_offset(through + 1));
    return _snap;
}

status log_store::snapshot_through(offset_t through, term_t term, batch_bytes data) {
    raft::snapshot sn{
        .last_offset = through, .last_term = term, .config = _snap.config, .data = std::move(data)};
    for (const auto& [offset, config] : _configs) {
        if (offset <= through) {
            sn.config = config;
        }
    }
    TRIB_TRY(write_snapshot(sn));
    std::erase_if(_configs, [&](const auto& c) { return c.first <= through; });
    return {};
}

offset_t log_store::batch_start_of(offset_t offset) const {
    if (offset <= _snap.last_offset + 1) {
        return offset;
    }
    auto at = position_of(offset);
    return at ? std::min(at->base_offset, offset) : offset;
}

result<raft::snapshot> log_store::move_start(offset_t new_start, batch_bytes data) {
    if (new_start - 1 > last_offset()) {
        return unexpected(make_error_code(errc::offset_out_of_range));
    }
    // The snapshot point goes to the end of the last whole entry before `new_start`; the
    // log's start may then lie inside the next one, which stays whole.
    offset_t through = batch_start_of(new_start) - 1;
    if (through > _snap.last_offset) {
        // Durable first, as compact does.
        TRIB_TRY(snapshot_through(through, term_of(through), std::move(data)));
    }
    TRIB_TRY(_log->advance_start_offset(new_start));
    return _snap;
}

status log_store::write(const ready& rd, int64_t now_ms) {
    if (rd.hard_state) {
        TRIB_TRY(write_state(*rd.hard_state));
    }
    if (rd.snapshot) {
        // The snapshot replaces the whole log: durable first, then the old entries go.
        TRIB_TRY(write_snapshot(*rd.snapshot));
        TRIB_TRY(_log->truncate(_log->first_batch_offset()));
        _terms.clear();
        _configs.clear();
    }
    if (!rd.entries.empty()) {
        offset_t first = rd.entries.front().base_offset;
        if (first < _log->end_offset()) {
            TRIB_TRY(_log->truncate(first));
            std::erase_if(_terms, [&](const auto& t) { return t.first >= first; });
            std::erase_if(_configs, [&](const auto& c) { return c.first >= first; });
        }
        for (const entry& e : rd.entries) {
            TRIB_TRY(_log->append_exact(e.bytes(), now_ms));
            note_entry(e);
            if (e.kind == entry_kind::config) {
                _configs.emplace_back(e.base_offset, TRIB_TRY(config_of(e)));
            }
        }
        if (_log->first_batch_offset() <= _snap.last_offset) {
            TRIB_TRY(_log->advance_start_offset(_snap.last_offset + 1));
        }
    }
    return {};
}

}  // namespace trib::raft
