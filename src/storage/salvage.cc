// log::salvage: the operator's way out of damaged data (docs/formats/storage.md, "Damage").
#include <vector>

#include "base/assert.h"
#include "storage/errc.h"
#include "storage/log.h"

namespace trib::storage {

result<std::optional<salvage_report>> log::salvage(const std::filesystem::path& dir,
                                                   log_config config, bool apply) {
    auto opened = open(dir, config);
    if (!opened) return unexpected(opened.error());
    auto& l = **opened;
    if (l._damage.empty()) return std::optional<salvage_report>();
    const segment& active = *l._segments.back();
    salvage_report report{active.log_path(), l._damage, active.next_offset(), false};
    const damaged_range last = l._damage.back();  // a copy: the log is closed below
    recovery_checkpoint checkpoint = l._checkpoint->current();
    if (last.next_offset < 0) {
        // The tail's end is unknown: continue where no offset has been handed out. A log from
        // before checkpoints existed has no reservation; leave a generous gap instead.
        report.next_offset = checkpoint.reserved_end > last.first_offset
                                 ? checkpoint.reserved_end
                                 : last.first_offset + offset_reservation;
    }
    if (!apply) return std::optional(report);

    // The segment again, without the damaged bytes, written beside it and moved over it.
    auto path = active.log_path();
    int64_t base = active.base_offset();
    std::vector<uint8_t> kept;
    {
        auto f = file::open(path, false);
        if (!f) return unexpected(f.error());
        uint64_t pos = 0;
        auto copy_to = [&](uint64_t end) -> status {
            size_t at = kept.size();
            kept.resize(at + (end - pos));
            TRIB_TRY(f->read_at(pos, std::span(kept).subspan(at)));
            return {};
        };
        for (const auto& d : l._damage) {
            TRIB_TRY(copy_to(d.position));
            pos = uint64_t{d.position} + d.size;
        }
        TRIB_TRY(copy_to(active.size_bytes()));
    }
    opened->reset();  // closes every file of the log
    for (const char* suffix : {".index", ".timeindex"}) {
        TRIB_TRY(io::current().remove(dir / segment::file_name(base, suffix)));  // rebuilt
    }
    TRIB_TRY(write_file_durably(path, kept));  // beside it, synced, renamed over it
    if (last.next_offset < 0) {
        // An empty segment based where numbering continues: the next append gets that offset.
        auto next = segment::open(dir, report.next_offset, config.index_interval_bytes, true);
        if (!next) return unexpected(next.error());
        TRIB_TRY(sync_directory(dir));
    }
    // Everything left is synced and verifies: the recovery point covers it all.
    auto file_checkpoint = recovery_point_file::open(dir);
    if (!file_checkpoint) return unexpected(file_checkpoint.error());
    TRIB_TRY(file_checkpoint->write(
        {report.next_offset,
         std::max(checkpoint.reserved_end, report.next_offset + offset_reservation)}));
    auto reopened = open(dir, config);
    if (!reopened) return unexpected(reopened.error());
    TRIB_ASSERT_MSG((*reopened)->damage().empty(), "{}: damage left after salvage", dir.string());
    report.applied = true;
    return std::optional(report);
}

}  // namespace trib::storage
