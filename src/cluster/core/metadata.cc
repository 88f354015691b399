#include "cluster/core/metadata.h"

#include <algorithm>
#include <set>

#include "base/assert.h"

namespace trib::cluster::core {

const topic* image::find_topic(std::string_view name) const {
    auto it = topics.find(std::string(name));
    return it == topics.end() ? nullptr : &it->second;
}

const topic* image::find_topic(const topic_id& id) const {
    for (const auto& [name, t] : topics) {
        if (t.id == id) {
            return &t;
        }
    }
    return nullptr;
}

bool image::live(node_id id) const {
    auto it = brokers.find(id);
    return it != brokers.end() && !it->second.fenced;
}

std::string_view to_string(outcome o) {
    switch (o) {
        case outcome::applied:
            return "applied";
        case outcome::ignored:
            return "ignored";
        case outcome::topic_exists:
            return "topic exists";
        case outcome::unknown_topic:
            return "unknown topic";
        case outcome::unknown_broker:
            return "unknown broker";
        case outcome::invalid_assignment:
            return "invalid replica assignment";
        case outcome::unknown_partition:
            return "unknown partition";
        case outcome::no_reassignment:
            return "no reassignment in progress";
    }
    return "unknown outcome";
}

outcome check_assignment(const image& img, const std::vector<replica_list>& partitions) {
    for (const auto& replicas : partitions) {
        if (replicas.empty() || replicas.size() != partitions.front().size()) {
            return outcome::invalid_assignment;
        }
        std::set<node_id> seen;
        for (node_id id : replicas) {
            if (!img.brokers.contains(id) || !seen.insert(id).second) {
                return outcome::invalid_assignment;
            }
        }
    }
    return outcome::applied;
}

replica_list all_replicas(const topic& t, int32_t partition) {
    TRIB_ASSERT(partition >= 0 && static_cast<size_t>(partition) < t.partitions.size());
    const replica_list& current = t.partitions[static_cast<size_t>(partition)];
    auto moving = t.moving.find(partition);
    if (moving == t.moving.end()) {
        return current;
    }
    replica_list out = moving->second;
    for (node_id id : current) {
        if (std::find(out.begin(), out.end(), id) == out.end()) {
            out.push_back(id);
        }
    }
    return out;
}

namespace {

topic* find_mutable(image& img, const topic_id& id) {
    for (auto& [name, t] : img.topics) {
        if (t.id == id) {
            return &t;
        }
    }
    return nullptr;
}

struct applier {
    image& img;

    apply_result operator()(const init_cluster& c) const {
        if (!img.cluster_id.empty() || c.cluster_id.empty()) {
            return {outcome::ignored};
        }
        img.cluster_id = c.cluster_id;
        return {};
    }
    apply_result operator()(const register_broker& c) const {
        broker b = c.info;
        b.fenced = false;
        img.brokers[b.id] = std::move(b);
        return {};
    }
    apply_result operator()(const fence_broker& c) const {
        return set_fenced(c.id, c.incarnation, true);
    }
    apply_result operator()(const unfence_broker& c) const {
        return set_fenced(c.id, c.incarnation, false);
    }
    apply_result operator()(const create_topic& c) const {
        if (img.topics.contains(c.t.name) || img.find_topic(c.t.id) != nullptr) {
            return {outcome::topic_exists};
        }
        if (c.t.partitions.empty()) {
            return {outcome::invalid_assignment};
        }
        if (auto checked = check_assignment(img, c.t.partitions); checked != outcome::applied) {
            return {checked};
        }
        topic t = c.t;
        t.groups.clear();
        number_groups(t, t.partitions.size());
        img.topics.emplace(t.name, std::move(t));
        return {};
    }
    apply_result operator()(const delete_topic& c) const {
        const topic* t = img.find_topic(c.id);
        if (t == nullptr) {
            return {outcome::unknown_topic};
        }
        img.topics.erase(t->name);
        return {};
    }
    apply_result operator()(const create_partitions& c) const {
        topic* t = find_mutable(img, c.id);
        if (t == nullptr) {
            return {outcome::unknown_topic};
        }
        // New partitions have the topic's replication factor.
        if (c.added.empty() || c.added.front().size() != t->partitions.front().size()) {
            return {outcome::invalid_assignment};
        }
        if (auto checked = check_assignment(img, c.added); checked != outcome::applied) {
            return {checked};
        }
        t->partitions.insert(t->partitions.end(), c.added.begin(), c.added.end());
        number_groups(*t, c.added.size());
        return {};
    }
    apply_result operator()(const set_topic_configs& c) const {
        topic* t = find_mutable(img, c.id);
        if (t == nullptr) {
            return {outcome::unknown_topic};
        }
        t->configs = c.configs;
        return {};
    }
    apply_result operator()(const reassign_partition& c) const {
        topic* t = find_mutable(img, c.id);
        if (t == nullptr) {
            return {outcome::unknown_topic};
        }
        if (c.partition < 0 || static_cast<size_t>(c.partition) >= t->partitions.size()) {
            return {outcome::unknown_partition};
        }
        const replica_list& current = t->partitions[static_cast<size_t>(c.partition)];
        auto moving = t->moving.find(c.partition);
        if (c.target.empty()) {
            if (moving == t->moving.end()) {
                return {outcome::no_reassignment};
            }
            moving->second = current;  // back where it was, undoing what the move did
            return {};
        }
        if (auto checked = check_assignment(img, {c.target}); checked != outcome::applied) {
            return {checked};
        }
        if (moving == t->moving.end() && c.target == current) {
            return {outcome::ignored};
        }
        t->moving[c.partition] = c.target;
        return {};
    }
    apply_result operator()(const finish_reassignment& c) const {
        topic* t = find_mutable(img, c.id);
        if (t == nullptr) {
            return {outcome::unknown_topic};
        }
        auto moving = t->moving.find(c.partition);
        if (moving == t->moving.end() || moving->second != c.target) {
            return {outcome::ignored};  // a stale report: the target changed meanwhile
        }
        t->partitions[static_cast<size_t>(c.partition)] = c.target;
        t->moving.erase(moving);
        return {};
    }
    apply_result operator()(const drain_broker& c) const {
        if (!img.brokers.contains(c.id)) {
            return {outcome::unknown_broker};
        }
        bool changed = c.on ? img.draining.insert(c.id).second : img.draining.erase(c.id) > 0;
        return {changed ? outcome::applied : outcome::ignored};
    }
    apply_result operator()(const allocate_producer_ids& c) const {
        if (c.count <= 0) {
            return {outcome::ignored};
        }
        int64_t first = img.next_producer_id;
        img.next_producer_id += c.count;
        return {outcome::applied, first};
    }

    // Gives the topic's last `added` partitions the next Raft group ids.
    void number_groups(topic& t, size_t added) const {
        for (size_t i = 0; i < added; ++i) {
            t.groups.push_back(img.next_group_id++);
        }
    }

    apply_result set_fenced(node_id id, uint64_t incarnation, bool fenced) const {
        auto it = img.brokers.find(id);
        if (it == img.brokers.end()) {
            return {outcome::unknown_broker};
        }
        // A fence decided against an earlier incarnation must not hit the restarted broker.
        if (it->second.incarnation != incarnation || it->second.fenced == fenced) {
            return {outcome::ignored};
        }
        it->second.fenced = fenced;
        return {};
    }
};

}  // namespace

apply_result apply(image& img, const command& cmd, int64_t offset) {
    TRIB_ASSERT_MSG(offset > img.applied_offset, "controller entry {} applied after {}", offset,
                    img.applied_offset);
    img.applied_offset = offset;
    return std::visit(applier{img}, cmd);
}

}  // namespace trib::cluster::core
