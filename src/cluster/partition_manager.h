// The topics and partitions of this node. Topic metadata (names, ids, partition counts,
// setting overrides, the cluster id) is kept in `<data>/metadata.json`, written durably on
// every change; each partition's log lives in `<data>/topics/<topic>-<partition>/`. At start
// the logs of every known topic are opened (recovering them) and leftovers of interrupted
// creations and deletions are removed. Single node for now: the controller's Raft log will
// take the metadata file's place.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/result.h"
#include "cluster/partition.h"
#include "cluster/topic_config.h"
#include "storage/cleaner.h"
#include "storage/flusher.h"

namespace trib::cluster {

using topic_id = std::array<uint8_t, 16>;

struct topic_info {
    std::string name;
    topic_id id{};
    int32_t partitions = 0;
    config_overrides configs;
};

class partition_manager {
  public:
    static result<std::unique_ptr<partition_manager>, error> open(
        const std::filesystem::path& data_dir, topic_defaults defaults,
        std::chrono::milliseconds cleaner_interval, size_t flush_threads = 1);
    ~partition_manager();

    const std::string& cluster_id() const { return _cluster_id; }
    const topic_defaults& defaults() const { return _defaults; }

    // Creates a topic (or with `validate_only`, only checks it could be): a valid, unused
    // name, at least one partition, valid setting overrides.
    result<topic_info, error> create_topic(const std::string& name, int32_t partitions,
                                           const config_overrides& configs, bool validate_only);
    result<void, error> delete_topic(const std::string& name);
    // Grows a topic to `total` partitions (never shrinks).
    result<void, error> add_partitions(const std::string& name, int32_t total, bool validate_only);
    // Replaces the topic's overrides (AlterConfigs) after validating each.
    result<void, error> set_configs(const std::string& name, const config_overrides& configs,
                                    bool validate_only);

    std::vector<topic_info> topics() const;
    std::optional<topic_info> topic(const std::string& name) const;
    std::optional<topic_info> topic_by_id(const topic_id& id) const;
    std::shared_ptr<partition> get(const std::string& name, int32_t index) const;

    // Data was appended: schedule a flush by the partition's policy.
    void appended(const partition& p) { _flusher.appended(&p.log()); }
    // Asks for a flush now (acks=all); waiters of the partition are woken when it is done.
    void request_flush(const partition& p) { _flusher.request(&p.log()); }

  private:
    partition_manager(std::filesystem::path data_dir, topic_defaults defaults,
                      std::chrono::milliseconds cleaner_interval, size_t flush_threads);
    result<void, error> load();
    result<void, error> save_locked() const;
    result<std::shared_ptr<partition>, error> open_partition(const topic_info& t, int32_t index);
    void close_partition_locked(const std::string& name, int32_t index);
    std::filesystem::path partition_dir(const std::string& name, int32_t index) const;

    std::filesystem::path _data_dir;
    topic_defaults _defaults;
    std::string _cluster_id;
    mutable std::shared_mutex _mutex;
    std::map<std::string, topic_info> _topics;
    std::map<std::pair<std::string, int32_t>, std::shared_ptr<partition>> _partitions;
    storage::flusher _flusher;
    storage::cleaner _cleaner;
};

}  // namespace trib::cluster
