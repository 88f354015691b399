// Committed offsets, the group log (records out, replay in), and the administrative calls:
// DescribeGroups, ListGroups, DeleteGroups, OffsetDelete.
#include <algorithm>
#include <set>

#include "kafka/groups/core/coordinator.h"
#include "kafka/groups/core/records.h"
#include "kafka/protocol/consumer_protocol_subscription.h"
#include "kafka/protocol/error_codes.h"

namespace trib::kafka::groups {

namespace ec = error_code;

namespace {

// The topics a consumer-protocol member subscribes to, from its subscription metadata.
std::set<std::string> subscribed_topics(const bytes& metadata) {
    protocol::reader r(metadata);
    int16_t version = r.read_int16();
    protocol::consumer_protocol_subscription sub;
    if (r.ok() && version >= 0) sub.decode(r, std::min<int16_t>(version, 3));
    if (!r.ok()) return {};
    return {sub.topics.begin(), sub.topics.end()};
}

}  // namespace

std::vector<int16_t> coordinator::commit_offsets(const offset_commit_request& req, int64_t now) {
    auto retime = begin_call(req.group_id, now);
    auto all = [&](int16_t code) { return std::vector<int16_t>(req.offsets.size(), code); };
    if (req.group_id.empty()) return all(ec::invalid_group_id);
    group* g = find(req.group_id);
    bool simple = req.generation < 0 && req.member_id.empty();
    if (!g) {
        // Only a commit outside group management may create a group (assign() consumers
        // and tools store offsets this way).
        if (!simple) return all(ec::illegal_generation);
        g = &get_or_create(req.group_id, now);
    } else if (simple) {
        if (!g->members.empty()) return all(ec::unknown_member_id);
    } else {
        auto it = g->members.find(req.member_id);
        if (it == g->members.end()) {
            bool fenced =
                req.group_instance_id && g->static_members.contains(*req.group_instance_id);
            return all(fenced ? ec::fenced_instance_id : ec::unknown_member_id);
        }
        if (it->second.instance_id != req.group_instance_id) return all(ec::fenced_instance_id);
        if (req.generation != g->generation) return all(ec::illegal_generation);
        if (g->state == group_state::completing_rebalance) return all(ec::rebalance_in_progress);
        it->second.session_deadline = now + it->second.session_timeout_ms;
    }
    std::vector<int16_t> out;
    for (const auto& [tp, value] : req.offsets) {
        if (value.metadata.size() > _cfg.max_metadata_bytes) {
            out.push_back(ec::offset_metadata_too_large);
            continue;
        }
        g->offsets[tp] = value;
        _records.push_back({g->id, encode_key(offset_key{g->id, tp}), encode_value(value)});
        out.push_back(ec::none);
    }
    return out;
}

std::vector<std::pair<topic_partition, committed_offset>> coordinator::fetch_offsets(
    const std::string& group_id,
    const std::optional<std::vector<topic_partition>>& partitions) const {
    std::vector<std::pair<topic_partition, committed_offset>> out;
    const group* g = find(group_id);
    if (!partitions) {
        if (g) out.assign(g->offsets.begin(), g->offsets.end());
        return out;
    }
    for (const auto& tp : *partitions) {
        committed_offset none;
        if (g) {
            if (auto it = g->offsets.find(tp); it != g->offsets.end()) none = it->second;
        }
        out.emplace_back(tp, none);
    }
    return out;
}

int16_t coordinator::delete_offsets(const std::string& group_id,
                                    const std::vector<topic_partition>& partitions,
                                    std::vector<int16_t>& per_partition, int64_t now) {
    auto retime = begin_call(group_id, now);
    per_partition.assign(partitions.size(), ec::none);
    if (group_id.empty()) return ec::invalid_group_id;
    group* g = find(group_id);
    if (!g) return ec::group_id_not_found;
    std::set<std::string> in_use;
    if (!g->members.empty()) {
        if (g->protocol_type != "consumer") return ec::non_empty_group;
        for (const auto& [id, m] : g->members) {
            for (const auto& [name, meta] : m.protocols) {
                if (name != g->protocol) continue;
                auto topics = subscribed_topics(meta);
                in_use.insert(topics.begin(), topics.end());
            }
        }
    }
    for (size_t i = 0; i < partitions.size(); ++i) {
        const auto& tp = partitions[i];
        if (in_use.contains(tp.topic)) {
            per_partition[i] = ec::group_subscribed_to_topic;
            continue;
        }
        if (g->offsets.erase(tp) > 0) {
            _records.push_back({g->id, encode_key(offset_key{g->id, tp}), std::nullopt});
        }
    }
    (void)now;
    return ec::none;
}

group_description coordinator::describe(const std::string& group_id) const {
    group_description d;
    if (group_id.empty()) {
        d.error_code = ec::invalid_group_id;
        return d;
    }
    const group* g = find(group_id);
    if (!g) return d;  // Dead, as Kafka describes an unknown group
    d.state = g->state;
    d.protocol_type = g->protocol_type;
    // The protocol is named only once it is in force (as Kafka does).
    if (g->state == group_state::stable) d.protocol = g->protocol.value_or("");
    for (const auto& [id, m] : g->members) {
        member_description md;
        md.member_id = id;
        md.group_instance_id = m.instance_id;
        md.client_id = m.client_id;
        md.client_host = m.client_host;
        if (g->state == group_state::stable) {
            for (const auto& [name, meta] : m.protocols) {
                if (name == g->protocol) md.metadata = meta;
            }
            md.assignment = m.assignment;
        }
        d.members.push_back(std::move(md));
    }
    return d;
}

std::vector<group_listing> coordinator::list() const {
    std::vector<group_listing> out;
    for (const auto& [id, g] : _groups)
        out.push_back({id, g.protocol_type, g.state});
    return out;
}

int16_t coordinator::delete_group(const std::string& group_id, int64_t now) {
    auto retime = begin_call(group_id, now);
    if (group_id.empty()) return ec::invalid_group_id;
    group* g = find(group_id);
    if (!g) return ec::group_id_not_found;
    if (!g->members.empty() || g->state != group_state::empty) return ec::non_empty_group;
    for (const auto& [tp, value] : g->offsets) {
        _records.push_back({g->id, encode_key(offset_key{g->id, tp}), std::nullopt});
    }
    _records.push_back({g->id, encode_key(group_key{g->id}), std::nullopt});
    erase_group(_groups.find(group_id));
    return ec::none;
}

// Offsets of an empty group expire a retention period after it became empty (KIP-211); a
// group that only stores offsets (no protocol) expires each offset by its commit time.
void coordinator::expire_offsets(group& g, int64_t now) {
    if (g.state != group_state::empty || !g.members.empty()) return;
    bool by_commit_time = g.protocol_type.empty();
    if (!by_commit_time && now - g.state_since < _cfg.offsets_retention_ms) return;
    for (auto it = g.offsets.begin(); it != g.offsets.end();) {
        if (by_commit_time && now - it->second.commit_timestamp_ms < _cfg.offsets_retention_ms) {
            ++it;
            continue;
        }
        _records.push_back({g.id, encode_key(offset_key{g.id, it->first}), std::nullopt});
        it = g.offsets.erase(it);
    }
}

void coordinator::replay(const bytes& key, const std::optional<bytes>& value) {
    auto decoded = decode_key(key);
    if (!decoded) return;
    if (auto* k = std::get_if<offset_key>(&*decoded)) {
        group& g = get_or_create(k->group_id, 0);
        if (!value) {
            g.offsets.erase(k->partition);
        } else if (auto v = decode_offset_value(*value)) {
            g.offsets[k->partition] = *v;
        }
        return;
    }
    const auto& gk = std::get<group_key>(*decoded);
    if (!value) {
        if (auto it = _groups.find(gk.group_id); it != _groups.end()) {
            it->second.members.clear();
            it->second.static_members.clear();
            it->second.generation = 0;
            it->second.protocol_type.clear();
            it->second.state = group_state::empty;
        }
        return;
    }
    auto stored = decode_group_value(*value);
    if (!stored) return;
    group& g = get_or_create(gk.group_id, stored->state_timestamp_ms);
    g.members.clear();
    g.static_members.clear();
    g.protocol_type = stored->protocol_type;
    g.generation = stored->generation;
    g.protocol = stored->protocol;
    g.leader = stored->leader;
    g.state_since = stored->state_timestamp_ms;
    for (auto& s : stored->members) {
        member m;
        m.id = s.member_id;
        m.instance_id = s.group_instance_id;
        m.client_id = s.client_id;
        m.client_host = s.client_host;
        m.rebalance_timeout_ms = s.rebalance_timeout_ms;
        m.session_timeout_ms = s.session_timeout_ms;
        m.protocol_type = stored->protocol_type;
        if (stored->protocol)
            m.protocols.emplace_back(*stored->protocol, std::move(s.subscription));
        m.assignment = std::move(s.assignment);
        m.joined_order = ++_next_member;
        if (m.instance_id) g.static_members[*m.instance_id] = m.id;
        g.members[m.id] = std::move(m);
    }
    g.state = g.members.empty() ? group_state::empty : group_state::stable;
}

void coordinator::finish_load(int64_t now, const std::function<bool(const std::string&)>& loaded) {
    // Members get a full session from now to show they are still there.
    for (auto& [id, g] : _groups) {
        if (loaded && !loaded(id)) continue;
        for (auto& [mid, m] : g.members)
            m.session_deadline = now + m.session_timeout_ms;
        reschedule(g);
    }
}

}  // namespace trib::kafka::groups
