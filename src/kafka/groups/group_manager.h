// The group coordinator's driver: it owns the coordinator behind one lock (calls come from
// every shard), writes the records it produces to the compacted group log
// `__consumer_offsets` (partition = the group id's Java hash modulo the partition count, as
// Kafka places groups), and rebuilds the coordinator from that log at start.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/result.h"
#include "cluster/partition_manager.h"
#include "kafka/groups/core/coordinator.h"
#include "net/later.h"

namespace trib::kafka::groups {

struct group_manager_config {
    coordinator_config coordinator;
    int32_t log_partitions = 16;  // offsets.topic.num.partitions
};

// A write to the group log: answer the client once it is committed (the answer comes).
struct durable_mark {
    std::shared_ptr<cluster::partition> partition;
    std::shared_ptr<net::later<cluster::replicate_result>> answer;
};

class group_manager {
  public:
    static constexpr const char* log_topic = "__consumer_offsets";

    // Creates the group log if needed and replays it. `member_id_prefix` should differ on
    // every start (member ids must never repeat).
    static result<std::unique_ptr<group_manager>, error> open(cluster::partition_manager& pm,
                                                              group_manager_config cfg,
                                                              std::string member_id_prefix,
                                                              int64_t now_ms);

    // Runs `fn(coordinator&)` under the lock and appends the records it produced. Returns
    // what fn returned; `marks` gets where the records went, `write_error` a Kafka error code
    // if they could not be written.
    // With an executor (the waiting handler's) each mark carries the write's answer.
    template <typename Fn>
    auto run(Fn&& fn, std::vector<durable_mark>& marks, int16_t& write_error,
             const asio::any_io_executor* executor = nullptr) {
        std::lock_guard lock(_mutex);
        auto out = fn(_coordinator);
        write_error = write(_coordinator.take_records(), marks, executor);
        announce_deadline();
        return out;
    }

    // Runs `fn(const coordinator&)` under the lock: a read-only look (the admin API).
    template <typename Fn>
    auto inspect(Fn&& fn) const {
        std::lock_guard lock(_mutex);
        return fn(static_cast<const coordinator&>(_coordinator));
    }

    // Fires the deadlines due by `now_ms`, and sweeps offset retention once a second.
    void tick(int64_t now_ms);
    // When tick next has work (a group deadline or the sweep), in wall-clock ms.
    int64_t next_tick();
    // `wake` is called (under the lock: it must only signal) when a call makes the next
    // deadline earlier than the one next_tick last reported, so the ticker re-arms.
    void on_earlier_deadline(std::function<void()> wake);
    // Shutdown, before the event loops go: answers every waiting JoinGroup/SyncGroup and
    // drops the ticker's wake-up.
    void abandon_waiters();

    int32_t partition_for(const std::string& group_id) const;

    // Loads the groups of group-log partitions this node leads now (once the leader has
    // committed an entry of its term, so it holds the whole committed log) and has not
    // loaded yet, and stops coordinating those it no longer leads. Called after the
    // partitions or their leaders change (on the Raft loop's tick).
    result<void, error> refresh(int64_t now_ms);
    // Whether this node coordinates `group_id`: its group-log partition is led here and
    // loaded, led here and still loading, or elsewhere (NOT_COORDINATOR).
    enum class ownership { here, loading, elsewhere };
    ownership owner_of(const std::string& group_id) const;

  private:
    group_manager(cluster::partition_manager& pm, group_manager_config cfg,
                  std::string member_id_prefix);
    result<void, error> replay(cluster::partition& part, size_t& records, size_t& skipped);
    void announce_deadline();
    int64_t next_tick_locked() const;
    int16_t write(std::vector<log_record> records, std::vector<durable_mark>& marks,
                  const asio::any_io_executor* executor);

    cluster::partition_manager& _partitions;
    group_manager_config _cfg;
    mutable std::mutex _mutex;
    coordinator _coordinator;
    std::set<int32_t> _loaded;  // group-log partitions replayed into the coordinator
    int64_t _next_sweep = 0;
    int64_t _armed_for = INT64_MAX;  // what the ticker is waiting for
    std::function<void()> _wake;
};

}  // namespace trib::kafka::groups
