// One partition replica on this node: the façade the Kafka handlers use. Its log is the log
// of its Raft group (docs/ARCHITECTURE.md, "Replicated partitions"); writes go through the
// group and are answered by acks level; reads go to the log directly, up to the high
// watermark, which is the Raft commit offset plus one.
//
// Threading: the Raft group, the idempotent producers' state and every waiting request live
// on the Raft loop (one thread for all Raft groups of the node). Kafka shards call
// replicate() from any thread: the request is posted to that loop and answered from it. What
// the shards read (high watermark, leadership, in-sync replicas) is published atomically or
// under a small mutex that no I/O ever holds. The log has its own lock for reads.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/offset_translator.h"
#include "cluster/producer_state.h"
#include "cluster/topic_config.h"
#include "net/async_event.h"
#include "raft/group.h"
#include "storage/log.h"

namespace trib::raft {
class host;
}

namespace trib::cluster {

enum class acks_level : int8_t { none = 0, leader = 1, all = -1 };

enum class replicate_errc : uint8_t {
    none,
    not_leader,           // this replica does not lead the partition: nothing appended
    not_enough_replicas,  // too few replicas in sync (or flow control): nothing appended
    timed_out,            // appended, not known committed by the deadline: may still commit
    storage_error,        // this replica's log failed
    invalid_batch,        // refused by the log (malformed, too large)
    sequence,             // an idempotent producer's sequence check failed: see `verdict`
};

struct replicate_result {
    replicate_errc code = replicate_errc::none;
    sequence_verdict verdict = sequence_verdict::append;
    int64_t base_offset = -1;  // of the first batch
    int64_t last_offset = -1;  // of the last batch
};

struct replicate_request {
    std::vector<std::vector<uint8_t>> batches;  // validated v2 batches
    acks_level acks = acks_level::all;
    int64_t deadline_ms = 0;  // steady clock
    int32_t min_insync = 1;   // acks=all: refused when fewer replicas are in sync
    int64_t now_ms = 0;       // wall clock, for the producers' state
};

// Who leads the partition, as this node knows it.
struct leadership {
    int32_t leader = -1;  // -1: none known
    int64_t epoch = -1;   // the leader's Raft term
    bool local = false;   // this replica leads
    bool ready = false;   // local and has committed an entry of its term (serves produce)
};

class partition : public std::enable_shared_from_this<partition> {
  public:
    using post_fn = std::function<void(std::function<void()>)>;
    using done_fn = std::function<void(replicate_result)>;

    struct raft_binding {
        raft::host* host = nullptr;
        post_fn post;  // runs a function on the Raft loop
        uint64_t group = 0;
        int32_t self = -1;
        std::vector<int32_t> replicas;  // the preferred leader first
        int tick_ms = 100;
        int election_ticks = 10;
        int64_t replica_lag_max_ms = 30000;  // replica.lag.time.max.ms
        // A leader that is not the preferred replica hands leadership to it when it is in
        // sync and caught up, checked this often; 0: never.
        int64_t preferred_leader_check_ms = 0;
        // While the partition moves: the replicas it moves to (empty: not moving), and how
        // its leader reports that the group's voters are those (to the controller).
        std::vector<int32_t> target;
        std::function<void(const std::string& topic, int32_t index, std::vector<int32_t> voters)>
            finish_move;
    };

    partition(std::string topic, int32_t index, std::shared_ptr<storage::log> log,
              const topic_settings& settings, raft_binding binding);

    const std::string& topic() const { return _topic; }
    int32_t index() const { return _index; }
    uint64_t group() const { return _binding.group; }
    const std::vector<int32_t>& replicas() const { return _binding.replicas; }
    // Reads only (and what storage itself does: retention, compaction); writes go through
    // the Raft group.
    storage::log& log() { return *_log; }
    const storage::log& log() const { return *_log; }
    const std::shared_ptr<storage::log>& shared_log() const { return _log; }
    topic_settings settings() const;
    // AlterConfigs: new settings take effect for the next append, roll and cleaning pass.
    void update_settings(const topic_settings& s);

    // ---- Kafka offsets (Raft's own batches are invisible: offset_translator.h) ----
    // The offset after the last committed record; never goes back.
    int64_t high_watermark() const;
    int64_t log_start() const;
    int64_t log_end() const;
    // Whole data batches from the one holding `offset`, below the high watermark, their base
    // offsets rewritten to Kafka's; Raft's own batches left out. next_offset is Kafka's.
    result<storage::read_result> read(
        int64_t offset, size_t max_bytes,
        storage::first_batch first = storage::first_batch::whole) const;
    // The first record at or after `timestamp` below the high watermark (ListOffsets).
    result<std::optional<storage::timestamp_offset>> offset_for_timestamp(int64_t timestamp) const;
    // DeleteRecords: the log starts at `offset` (at most the high watermark) on every replica
    // from now on. Replicated as an entry; `done` is called on the Raft loop once it is
    // committed and applied here (any error as for acks=all).
    void delete_records_before(int64_t offset, int64_t deadline_ms, done_fn done);
    // The Raft offset after the last committed entry (what storage may clean below).
    int64_t committed_end() const { return _committed_end.load(std::memory_order_acquire); }
    // The cleaner's thread: retention would start the log at this Raft offset. The Raft loop
    // moves the start at its next tick, the snapshot point (and the count of internal offsets
    // below it) durable before any segment goes, so a crash between them shifts no offset.
    void retain_from(int64_t raft_offset);
    leadership leader() const;
    // The replicas caught up with the leader within replica.lag.time.max.ms (as the leader
    // last saw them; on a follower, what the leader's announcements said).
    std::vector<int32_t> in_sync() const;
    // On the leader, how many offsets each follower's log is behind its own (refreshed every
    // tick); empty elsewhere. Thread-safe.
    std::map<int32_t, int64_t> replica_lag() const;
    void set_in_sync(std::vector<int32_t> isr);

    // Replicates the batches (any thread); `done` is called once, on the Raft loop, by the
    // acks level: none once proposed, leader once written here, all once committed.
    void replicate(replicate_request request, done_fn done);
    // OffsetForLeaderEpoch: the newest epoch at or below `epoch` and the Kafka offset where
    // it ends (the log's end for the latest epoch), on the Raft loop; (-1, -1) for an
    // epoch newer than any here.
    void end_of_epoch(int64_t epoch, std::function<void(int64_t epoch, int64_t end)> done);

    // Fetch long polls: `event` is signalled at the next commit (then forgotten).
    void add_waiter(const std::shared_ptr<net::async_event>& event);
    void wake_waiters();

    // ---- on the Raft loop ----
    raft::group::observer observer();
    // At open, from the store's snapshot and the log's batch headers: the idempotent
    // producers' state and where Raft's own batches lie.
    status rebuild(const raft::snapshot& snap, int64_t now_ms);
    // Fails what waits (the node stops or the partition is closed).
    void close();
    // A clean stop: a leader hands its leadership to its most caught-up live follower, so
    // clients move on at once rather than after an election timeout. True while a handover
    // is under way (this replica still leads).
    bool hand_over();
    // On the Raft loop: starts handing leadership to replica `to` (the Raft transfer: it
    // catches up, then campaigns at once). Not this node's to give, or `to` no replica that
    // can lead: a message saying why.
    result<void, std::string> transfer_leadership(int32_t to);
    // On the Raft loop: the controller's assignment changed (every replica, the target's
    // first, and the target while it moves). A new first replica is handed the leadership
    // by the replica leading then, within prefer_soon_ms once it is caught up, whatever the
    // periodic check says.
    void set_assignment(std::vector<int32_t> replicas, std::vector<int32_t> target);
    // Called on every leadership change, with this partition (the manager announces it).
    void on_leadership_change(std::function<void(const partition&)> fn) {
        _leadership_listener = std::move(fn);
    }

  private:
    struct waiter {
        int64_t last_offset;
        int64_t term;
        acks_level acks;
        int64_t deadline_ms;
        std::chrono::steady_clock::time_point started;  // for the commit latency metric
        // When this replica stopped leading with the write unsettled (steady ms), else -1.
        int64_t orphaned_ms = -1;
        replicate_result result;
        done_fn done;
    };
    struct parked {
        replicate_request request;
        done_fn done;
    };
    struct proposed {
        int64_t base_offset;
        int64_t term;
    };

    raft::group* find_group() const;
    void run(replicate_request request, done_fn done);
    bool quorum_reachable(const raft::raft_node& node) const;
    void on_committed(int64_t commit);
    void on_written(const raft::ready& rd);
    void on_state_changed();
    void on_tick();
    void on_commit_learned();
    void publish_leadership(const raft::group& g);
    void prefer_leader(raft::raft_node& node,
                       const std::vector<raft::raft_node::peer_status>& peers);
    // A move: the learners it adds on every replica; on the leader, one voter change at a
    // time towards the target, then the report that it is done (partition_moves.cc).
    void drive_move(raft::raft_node& node, const std::vector<raft::raft_node::peer_status>& peers);
    void settle_waiters(raft::group& g, int64_t now_ms);
    void release_parked(int64_t now_ms);
    void apply_to_producers(const raft::entry& e);
    // Producers' state from the batch headers below `below_offset` (after a truncation).
    status rebuild_producers(int64_t below_offset, int64_t now_ms);
    int64_t to_kafka(int64_t raft) const;
    // Moves the log start where retention and committed DeleteRecords put it.
    void follow_log_start(raft::group& g);
    // The snapshot payload for a log that starts at `new_start` (a Raft offset).
    raft::batch_bytes snapshot_data(const raft::group& g, int64_t new_start) const;
    void move_start(raft::group& g, int64_t new_start);
    // Applies the log-start moves whose entries have committed.
    void apply_start_moves(raft::group& g);

    std::string _topic;
    int32_t _index;
    std::shared_ptr<storage::log> _log;
    raft_binding _binding;

    mutable std::mutex _mutex;  // guards the settings, leadership, ISR and fetch waiters
    topic_settings _settings;
    leadership _leadership;
    std::vector<int32_t> _in_sync;
    std::map<int32_t, int64_t> _replica_lag;  // guarded by _mutex
    std::vector<std::weak_ptr<net::async_event>> _waiters;
    size_t _prune_at = 64;
    std::atomic<int64_t> _committed_end{0};    // Raft offset
    std::atomic<int64_t> _retention_start{0};  // Raft offset: where retention would start
    mutable std::mutex _offsets_mutex;         // guards _offsets (no I/O under it)
    offset_translator _offsets;

    // Raft loop only.
    producer_state _producers;
    int64_t _producers_through = -1;  // the last offset the producers' state reflects
    std::deque<proposed> _proposed;   // applied to _producers at propose, not yet written
    // An idempotent producer's batch this leader refused unwritten (leadership moving, flow
    // control): its later batches in flight get the same retriable answer, not
    // OUT_OF_ORDER_SEQUENCE_NUMBER, which would make librdkafka bump its epoch and renumber
    // whatever it has unacknowledged (a write possibly persisted elsewhere then goes twice).
    struct refused_batch {
        int16_t epoch = 0;
        int32_t base_sequence = 0;
        replicate_errc code = replicate_errc::not_leader;
    };
    std::map<int64_t, refused_batch> _refused;  // by producer id; cleared on role changes
    std::multimap<int64_t, waiter> _waiting;    // by last offset
    std::vector<parked> _parked;                // wait for this leader to be ready
    uint64_t _ticks_leading = 0;
    uint64_t _move_reported_tick = 0;  // when the leader last reported its move done
    // Ticks left to hand leadership to a newly named preferred replica (see set_assignment).
    uint64_t _prefer_soon_ticks = 0;
    static constexpr int prefer_soon_ms = 30000;
    // Log-start moves (after this offset commits, the log starts at that one), ascending.
    std::deque<std::pair<int64_t, int64_t>> _start_moves;
    std::function<void(const partition&)> _leadership_listener;
    bool _closed = false;
};

}  // namespace trib::cluster
