// Controller images for the partition manager's tests: topics whose partitions all sit on
// node 1 (or wherever the test says), at increasing applied offsets.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster/core/metadata.h"

namespace trib::cluster::test {

class images {
  public:
    images() {
        core::broker b;
        b.id = 1;
        run(core::init_cluster{"test-cluster-id-000000"});
        run(core::register_broker{b});
        b.id = 2;
        run(core::register_broker{b});
    }
    // Adds a topic of `partitions` partitions, each on `replica`.
    const core::image& create(const std::string& name, int32_t partitions,
                              std::map<std::string, std::string> configs = {},
                              core::node_id replica = 1) {
        core::topic t;
        t.name = name;
        t.id = next_id();
        t.configs = std::move(configs);
        t.partitions.assign(static_cast<size_t>(partitions), core::replica_list{replica});
        run(core::create_topic{t});
        return _img;
    }
    const core::image& remove(const std::string& name) {
        run(core::delete_topic{_img.find_topic(name)->id});
        return _img;
    }
    const core::image& grow(const std::string& name, int32_t added, core::node_id replica = 1) {
        run(core::create_partitions{
            _img.find_topic(name)->id,
            std::vector<core::replica_list>(static_cast<size_t>(added), {replica})});
        return _img;
    }
    const core::image& set_configs(const std::string& name,
                                   std::map<std::string, std::string> configs) {
        run(core::set_topic_configs{_img.find_topic(name)->id, std::move(configs)});
        return _img;
    }
    // Starts (or, with no target, cancels) a partition's move; `finish` ends it as its leader
    // reports.
    const core::image& move(const std::string& name, int32_t partition, core::replica_list target) {
        run(core::reassign_partition{_img.find_topic(name)->id, partition, std::move(target)});
        return _img;
    }
    const core::image& finish(const std::string& name, int32_t partition) {
        const core::topic* t = _img.find_topic(name);
        run(core::finish_reassignment{t->id, partition, t->moving.at(partition)});
        return _img;
    }
    std::shared_ptr<const core::image> now() const {
        return std::make_shared<const core::image>(_img);
    }

  private:
    void run(const core::command& c) { (void)core::apply(_img, c, _next++); }
    core::topic_id next_id() {
        core::topic_id id{};
        id[0] = static_cast<uint8_t>(++_ids);
        id[15] = 0x5a;
        return id;
    }
    core::image _img;
    int64_t _next = 0;
    int _ids = 0;
};

}  // namespace trib::cluster::test
