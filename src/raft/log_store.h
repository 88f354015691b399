// A Raft group's durable state on the storage engine: the partition's data log is the Raft
// log (entries are its batches, the term in partitionLeaderEpoch), plus two small files —
// `raft_state` (term and vote) and `raft_snapshot` (the position and voters the log starts
// after). Terms and config entries are indexed in memory at open (batch headers only), so the
// state machine's term lookups never touch the disk. Layout: docs/formats/raft-rpc.md.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "base/error.h"
#include "raft/core/stable_log.h"
#include "storage/log.h"

namespace trib::raft {

// What open does with damaged log data (storage::log::damage): a replica with peers drops it
// and everything after it, remembers what it may have lost (hard_state::lost_through) and
// gets it again from the leader; a replica alone has no one to ask and keeps it, serving
// what is intact until an operator salvages the log.
enum class damage_repair : uint8_t { keep, from_peers };

class log_store final : public stable_log {
  public:
    // Opens or creates the store in `dir`, its log in `dir/log` or, given, `log_dir` (a
    // partition keeps its segments and the state files in one directory). A new store's
    // snapshot is at -1 with `bootstrap`, written at once (an existing store keeps its own
    // voters, whatever `bootstrap` says). A log that holds batches but no Raft state yet (a
    // partition from before replication, every batch's epoch 0) keeps them as entries of
    // term 0, after a snapshot point just before its start.
    static result<std::unique_ptr<log_store>, error> open(
        const std::filesystem::path& dir, configuration bootstrap, storage::log_config config,
        const std::optional<std::filesystem::path>& log_dir = std::nullopt,
        damage_repair repair = damage_repair::keep);

    raft::snapshot snapshot() const override { return _snap; }
    offset_t last_offset() const override;
    term_t term_of(offset_t offset) const override;
    result<entry_position> position_of(offset_t offset) const override;
    result<std::vector<entry>> entries(offset_t from, offset_t last,
                                       size_t max_bytes) const override;
    std::vector<std::pair<offset_t, configuration>> configs() const override { return _configs; }

    hard_state state() const { return _hard; }
    // The first offset of each run of one term in the log, ascending (OffsetForLeaderEpoch).
    const std::vector<std::pair<offset_t, term_t>>& term_starts() const { return _terms; }
    // The ready's hard state and snapshot are durable when this returns; its entries are
    // written and become durable with the next flush of data() (the group commit).
    status write(const ready& rd, int64_t now_ms);
    const std::shared_ptr<storage::log>& data() const { return _log; }
    // The application's snapshot through `through` (an entry's last offset, applied): written
    // durably with `data`, then the log before it is dropped. Returns it for the state
    // machine's `compacted`.
    result<raft::snapshot> compact(offset_t through, batch_bytes data);
    // The log starts at `new_start` (at most its end; retention may have moved it there
    // already): the snapshot point moves to the end of the last whole entry before it,
    // durably and with `data` as its payload, then the log's prefix goes. Followers behind it
    // get the snapshot.
    result<raft::snapshot> move_start(offset_t new_start, batch_bytes data);
    // The base offset of the entry holding `offset` (`offset` itself at or past the end).
    offset_t batch_start_of(offset_t offset) const;

  private:
    // Writes the snapshot through `through` (an entry's end) durably, with the configuration
    // in force there, and forgets the config entries it covers.
    status snapshot_through(offset_t through, term_t term, batch_bytes data);
    log_store(std::filesystem::path dir, std::shared_ptr<storage::log> log)
        : _dir(std::move(dir)), _log(std::move(log)) {}
    status index_log();
    status write_snapshot(const raft::snapshot& sn);
    status write_state(const hard_state& hs);
    // Drops the damage and all after it, the loss remembered first; returns where the log
    // was cut (nullopt: no damage).
    result<std::optional<offset_t>> repair_damage();
    void note_entry(const entry& e);

    std::filesystem::path _dir;
    std::shared_ptr<storage::log> _log;
    hard_state _hard;
    raft::snapshot _snap;
    std::vector<std::pair<offset_t, term_t>> _terms;  // first offset of each run of a term
    std::vector<std::pair<offset_t, configuration>> _configs;
};

}  // namespace trib::raft
