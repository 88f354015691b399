// The partitions this node holds, kept in line with the controller's metadata image. The
// image says which topics exist and where each partition's replicas go; `reconcile` opens
// (or creates) the log of every partition this node serves, closes and deletes the logs of
// partitions it no longer holds — deleted topics, also those deleted while this node was
// down (a directory whose topic id the image does not know) — and applies changed settings.
// Each partition's log lives in `<data>/topics/<topic>-<partition>/` with its topic id in
// the file `topic_id` and its Raft state beside the segments; every replica named in the
// image is a member of the partition's Raft group (the controller numbers the groups).
// reconcile and everything that touches the groups run on the Raft loop.
//
// The single-node layout before the controller kept the topics in `<data>/metadata.json`;
// read_legacy reads it once, to move it into the controller log (app/node).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/result.h"
#include "cluster/core/metadata.h"
#include "cluster/leaders.h"
#include "cluster/partition.h"
#include "cluster/topic_config.h"
#include "storage/cleaner.h"

namespace trib::cluster {

using topic_id = core::topic_id;

struct topic_info {
    std::string name;
    topic_id id{};
    int32_t partitions = 0;
    config_overrides configs;
    std::vector<core::replica_list> replicas;  // per partition, the preferred leader first
};

// What the single-node version kept in metadata.json.
struct legacy_metadata {
    std::string cluster_id;
    std::vector<topic_info> topics;  // replicas empty
};

// How the partitions reach their Raft groups.
struct replication_options {
    raft::host* host = nullptr;
    partition::post_fn post;  // onto the Raft loop
    core::node_id self = -1;
    int tick_ms = 100;
    int election_ticks = 5;
    int64_t replica_lag_max_ms = 30000;
    int64_t preferred_leader_check_ms = 0;  // 0: leaders stay where elections put them
    // Tells the controller that a moving partition's Raft group has the voters `target`.
    std::function<void(const std::string& topic, int32_t index, std::vector<int32_t> target)>
        finish_move;
    // Sends a leadership announcement to a broker (best effort).
    std::function<void(core::node_id, std::span<const uint8_t>)> announce;
};

// What Metadata says of a partition.
struct partition_state {
    int32_t leader = -1;  // -1: none known (or it is not live)
    int64_t epoch = -1;
    std::vector<int32_t> in_sync;
};

class partition_manager {
  public:
    static constexpr int32_t max_partitions = 100000;
    using image_ptr = std::shared_ptr<const core::image>;

    static result<std::unique_ptr<partition_manager>, error> open(
        const std::filesystem::path& data_dir, topic_defaults defaults,
        std::chrono::milliseconds cleaner_interval);
    ~partition_manager();

    // Before the first reconcile.
    void bind(replication_options options);

    // nullopt when there is no metadata.json; an error when it is unreadable.
    static result<std::optional<legacy_metadata>, error> read_legacy(
        const std::filesystem::path& data_dir);
    // Renames metadata.json once its content is in the controller log.
    static result<void, error> retire_legacy(const std::filesystem::path& data_dir);

    // Brings the local partitions in line with `img` (an older image than the last one is
    // ignored). Thread-safe. Failures to open or remove a log are reported and retried at
    // the next image.
    result<void, error> reconcile(const image_ptr& img, core::node_id self);

    image_ptr image() const;
    std::string cluster_id() const;
    const std::filesystem::path& data_dir() const { return _data_dir; }
    const topic_defaults& defaults() const { return _defaults; }

    std::vector<topic_info> topics() const;
    std::optional<topic_info> topic(const std::string& name) const;
    std::optional<topic_info> topic_by_id(const topic_id& id) const;
    // The partition if this node holds a replica of it, else null.
    std::shared_ptr<partition> get(const std::string& name, int32_t index) const;
    // Its leader (live brokers only), epoch and in-sync replicas, from the local replica or
    // the leaders' announcements.
    partition_state state_of(const core::image& img, const core::topic& t, int32_t index) const;

    // Leadership announcements from another node (any thread); false when malformed.
    bool on_announcement(std::span<const uint8_t> payload);
    // On the Raft loop, every tick: announces every local leadership now and then.
    void tick();
    // On the Raft loop: closes every partition (the node stops).
    void close_all();
    // On the Raft loop, as a clean stop begins: starts handing over every leadership that a
    // live follower can take; returns how many handovers are still under way.
    size_t hand_over_leaderships();
    // The transport's view of another node (any thread): while its connections are refused
    // (its process died), Metadata names no leader it led, so clients look again soon
    // instead of waiting out their reconnect backoff on a dead address.
    void set_reachable(int32_t node, bool reachable);
    bool reachable(int32_t node) const;

  private:
    partition_manager(std::filesystem::path data_dir, topic_defaults defaults,
                      std::chrono::milliseconds cleaner_interval);
    result<std::shared_ptr<partition>, error> open_partition(const core::topic& t, int32_t index);
    void announce(const std::vector<leader_announcement>& items);
    leader_announcement announcement_of(const partition& p) const;
    void close_partition_locked(const std::string& name, int32_t index);
    result<void, error> remove_dir(const std::filesystem::path& dir);
    std::filesystem::path partition_dir(const std::string& name, int32_t index) const;

    std::filesystem::path _data_dir;
    topic_defaults _defaults;
    mutable std::shared_mutex _mutex;
    image_ptr _image;
    std::map<std::pair<std::string, int32_t>, std::shared_ptr<partition>> _partitions;
    std::map<std::pair<std::string, int32_t>, topic_id> _partition_topic;  // whose log it is
    replication_options _replication;
    leader_table _leaders;
    mutable std::mutex _reach_mutex;
    std::set<int32_t> _unreachable;
    int64_t _next_announce_ms = 0;
    storage::cleaner _cleaner;
};

// Kafka's rules for a new topic's partition count.
result<void, error> validate_partition_count(int32_t partitions);

}  // namespace trib::cluster
