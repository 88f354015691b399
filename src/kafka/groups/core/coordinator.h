// The group coordinator of Kafka's classic group protocol, as a deterministic state machine:
// no clocks, threads or I/O. Every call takes the current time. Each group's next deadline
// (a session or join timeout, the rebalance or sync timeout, the end of the initial rebalance
// delay) is kept in a timer index: `next_deadline` says when `fire_due` has work, so the
// driver fires each one when it is due rather than on a coarse tick; `tick` also sweeps
// offset retention and forgotten groups. State
// that must survive a restart leaves through `take_records()` as records for the group log,
// and comes back through `replay` at start. The driver (kafka/groups) serialises calls.
//
// Group states: empty -> preparing_rebalance (a member joins, leaves or changes) ->
// completing_rebalance (everyone rejoined or the rebalance timeout passed: a new generation,
// the leader gets the members) -> stable (the leader's SyncGroup handed out assignments).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kafka/groups/core/types.h"

namespace trib::kafka::groups {

struct coordinator_config {
    int32_t min_session_timeout_ms = 6000;       // group.min.session.timeout.ms
    int32_t max_session_timeout_ms = 1'800'000;  // group.max.session.timeout.ms
    int32_t initial_rebalance_delay_ms = 3000;   // group.initial.rebalance.delay.ms
    int64_t offsets_retention_ms = int64_t{7} * 24 * 3600 * 1000;  // offsets.retention.minutes
    size_t max_metadata_bytes = 4096;                              // offset.metadata.max.bytes
    size_t max_group_size = 1000;                                  // group.max.size
};

class coordinator {
  public:
    // `member_id_prefix` makes the member ids of this process unique (the driver passes a
    // random one; tests a fixed one).
    coordinator(coordinator_config cfg, std::string member_id_prefix);

    void join(join_request req, int64_t now, join_callback done);
    void sync(sync_request req, int64_t now, sync_callback done);
    int16_t heartbeat(const std::string& group_id, const member_identity& who, int32_t generation,
                      int64_t now);
    // One error code per member, in order.
    std::vector<int16_t> leave(const std::string& group_id,
                               const std::vector<member_identity>& members, int64_t now);

    // A group-level error for every partition, or per-partition results (same order).
    std::vector<int16_t> commit_offsets(const offset_commit_request& req, int64_t now);
    // The committed offsets of `partitions`, or of every partition when nullopt.
    std::vector<std::pair<topic_partition, committed_offset>> fetch_offsets(
        const std::string& group_id,
        const std::optional<std::vector<topic_partition>>& partitions) const;
    // Per partition: removes committed offsets of topics no member is subscribed to.
    int16_t delete_offsets(const std::string& group_id,
                           const std::vector<topic_partition>& partitions,
                           std::vector<int16_t>& per_partition, int64_t now);

    group_description describe(const std::string& group_id) const;
    std::vector<group_listing> list() const;
    int16_t delete_group(const std::string& group_id, int64_t now);

    // Fires every group deadline at or before `now`.
    void fire_due(int64_t now);
    // The earliest pending group deadline (what fire_due would act on first); nullopt: none.
    std::optional<int64_t> next_deadline() const;
    // fire_due for every group, plus offset retention and forgetting unused groups.
    void tick(int64_t now);

    // Answers every JoinGroup and SyncGroup still waiting with COORDINATOR_NOT_AVAILABLE
    // (shutdown: nothing may hold a waiting request's callback past its event loop).
    void abandon_waiters();

    // Records to append to the group log since the last call.
    std::vector<log_record> take_records();

    // Loading (at start, or when this node comes to lead a group-log partition): each
    // record of the group log in order, then finish_load. Members of the groups `loaded`
    // names (all when empty) get a full session from `now`; the others are untouched.
    void replay(const bytes& key, const std::optional<bytes>& value);
    void finish_load(int64_t now,
                     const std::function<bool(const std::string& group_id)>& loaded = {});
    // Another node coordinates these groups now: they are forgotten here (waiting calls get
    // NOT_COORDINATOR), to be loaded afresh from the log if they come back.
    void unload(const std::function<bool(const std::string& group_id)>& which);

  private:
    struct member {
        std::string id;
        std::optional<std::string> instance_id;
        std::string client_id;
        std::string client_host;
        int32_t session_timeout_ms = 0;
        int32_t rebalance_timeout_ms = 0;
        std::string protocol_type;
        std::vector<std::pair<std::string, bytes>> protocols;
        bytes assignment;
        join_callback awaiting_join;
        sync_callback awaiting_sync;
        int64_t session_deadline = 0;
        uint64_t joined_order = 0;  // the leader is the earliest joiner when one must be chosen
    };
    struct group {
        std::string id;
        group_state state = group_state::empty;
        int32_t generation = 0;
        std::string protocol_type;
        std::optional<std::string> protocol;
        std::optional<std::string> leader;
        std::map<std::string, member> members;
        std::map<std::string, std::string> static_members;  // instance id -> member id
        std::map<std::string, int64_t> pending_members;     // ids handed out, join deadline
        int64_t deadline = 0;           // of the rebalance (preparing) or of the sync (completing)
        int64_t initial_delay_end = 0;  // a new group waits for more members to arrive
        int64_t state_since = 0;
        std::map<topic_partition, committed_offset> offsets;
        int64_t timer_at = no_timer;  // its entry in the timer index
    };
    static constexpr int64_t no_timer = INT64_MAX;
    // Re-times a group's deadline when a call that may have changed it returns.
    class retime_on_exit {
      public:
        retime_on_exit(coordinator& c, const std::string& group_id) : _c(c), _group_id(group_id) {}
        retime_on_exit(const retime_on_exit&) = delete;
        retime_on_exit& operator=(const retime_on_exit&) = delete;
        ~retime_on_exit();

      private:
        coordinator& _c;
        const std::string& _group_id;
    };
    // Every call on a group starts here: what was due by `now` is fired first (a call at a
    // deadline sees it passed), and the group is re-timed when the call returns.
    [[nodiscard]] retime_on_exit begin_call(const std::string& group_id, int64_t now);

    group* find(const std::string& id);
    const group* find(const std::string& id) const;
    group& get_or_create(const std::string& id, int64_t now);
    std::string new_member_id(const std::string& client_id);

    void join_new_member(group& g, join_request& req, int64_t now, join_callback& done);
    void join_known_member(group& g, member& m, join_request& req, int64_t now,
                           join_callback& done);
    void rejoin_static_unchanged(group& g, member& m, const std::string& old_id,
                                 const join_request& req, int64_t now, join_callback& done);
    void add_member(group& g, member m, int64_t now);
    void remove_member(group& g, const std::string& member_id, int16_t reason, int64_t now);
    void prepare_rebalance(group& g, int64_t now);
    void try_complete_join(group& g, int64_t now);
    void complete_join(group& g, int64_t now);
    join_response join_answer(const group& g, const member& m) const;
    bool protocols_compatible(const group& g, const join_request& req) const;
    std::string select_protocol(const group& g) const;
    void set_state(group& g, group_state s, int64_t now);
    // Answer a member's pending JoinGroup / SyncGroup / both with an error, if any.
    static void fail_join(member& m, int16_t code);
    static void fail_sync(member& m, int16_t code);
    static void fail_waiting(member& m, int16_t code);
    void persist_group(const group& g);
    void expire_offsets(group& g, int64_t now);
    // Acts on what is due in `g` at `now` (and, with `sweep`, on offset retention); returns
    // false if the group was forgotten (erased).
    bool tick_group(std::map<std::string, group>::iterator it, int64_t now, bool sweep);
    // The time of `g`'s next deadline by the rules tick_group acts on.
    static int64_t due_time(const group& g);
    void set_timer(group& g, int64_t due);  // moves its entry in the timer index
    void reschedule(group& g);
    void erase_group(std::map<std::string, group>::iterator it);  // and its timer
    void reschedule(const std::string& group_id);

    coordinator_config _cfg;
    std::string _prefix;
    uint64_t _next_member = 0;
    std::map<std::string, group> _groups;
    std::set<std::pair<int64_t, std::string>> _timers;  // (due time, group id)
    std::vector<log_record> _records;
};

}  // namespace trib::kafka::groups
