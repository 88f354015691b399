#include "cluster/partition_manager.h"

#include <charconv>
#include <chrono>
#include <fstream>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "cluster/errc.h"
#include "raft/host.h"
#include "raft/log_store.h"
#include "storage/file.h"

namespace trib::cluster {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* metadata_file = "metadata.json";
constexpr const char* retired_metadata_file = "metadata.json.migrated";
constexpr const char* topic_id_file = "topic_id";
constexpr const char* topics_dir = "topics";
constexpr const char* deleted_prefix = ".deleted-";

error make_error(errc code, std::string message) {
    return error{make_error_code(code), std::move(message)};
}

error storage_error(const std::string& what, const std::error_code& ec) {
    return make_error(errc::storage_failure, fmt::format("{}: {}", what, ec.message()));
}

std::array<uint8_t, 16> random_uuid() {
    std::random_device rd;
    std::array<uint8_t, 16> id{};
    for (auto& b : id)
        b = static_cast<uint8_t>(rd());
    id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);  // version 4
    id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return id;
}

std::string hex(std::span<const uint8_t> bytes) {
    std::string out;
    for (uint8_t b : bytes)
        out += fmt::format("{:02x}", b);
    return out;
}

std::optional<topic_id> parse_hex_id(const std::string& text) {
    if (text.size() != 32) return std::nullopt;
    topic_id id{};
    for (size_t i = 0; i < 16; ++i) {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, v, 16);
        if (ec != std::errc() || end != text.data() + 2 * i + 2) return std::nullopt;
        id[i] = static_cast<uint8_t>(v);
    }
    return id;
}

std::optional<topic_id> read_topic_id(const fs::path& dir) {
    std::ifstream in(dir / topic_id_file);
    std::string text;
    if (!(in >> text)) return std::nullopt;
    return parse_hex_id(text);
}

}  // namespace

result<void, error> validate_partition_count(int32_t partitions) {
    if (partitions <= 0 || partitions > partition_manager::max_partitions) {
        return unexpected(make_error(errc::invalid_partitions,
                                     fmt::format("Number of partitions must be 1 to {}, not {}.",
                                                 partition_manager::max_partitions, partitions)));
    }
    return {};
}

partition_manager::partition_manager(fs::path data_dir, topic_defaults defaults,
                                     std::chrono::milliseconds cleaner_interval)
    : _data_dir(std::move(data_dir)), _defaults(defaults), _cleaner(cleaner_interval) {}

partition_manager::~partition_manager() = default;

void partition_manager::bind(replication_options options) {
    _replication = std::move(options);
}

result<std::unique_ptr<partition_manager>, error> partition_manager::open(
    const fs::path& data_dir, topic_defaults defaults, std::chrono::milliseconds cleaner_interval) {
    std::unique_ptr<partition_manager> pm(
        new partition_manager(data_dir, defaults, cleaner_interval));
    std::error_code ec;
    fs::create_directories(data_dir / topics_dir, ec);
    if (ec) return unexpected(storage_error("cannot create the topics directory", ec));
    return pm;
}

result<std::optional<legacy_metadata>, error> partition_manager::read_legacy(
    const fs::path& data_dir) {
    auto path = data_dir / metadata_file;
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::optional<legacy_metadata>{};
    legacy_metadata out;
    try {
        std::ifstream in(path);
        json doc = json::parse(in);
        out.cluster_id = doc.at("cluster_id").get<std::string>();
        for (const auto& t : doc.at("topics")) {
            topic_info info;
            info.name = t.at("name").get<std::string>();
            auto id = parse_hex_id(t.at("id").get<std::string>());
            if (!id) throw std::runtime_error("bad topic id");
            info.id = *id;
            info.partitions = t.at("partitions").get<int32_t>();
            info.configs = t.at("configs").get<config_overrides>();
            if (info.partitions <= 0 || info.partitions > max_partitions) {
                throw std::runtime_error("bad partition count for " + info.name);
            }
            out.topics.push_back(std::move(info));
        }
    } catch (const std::exception& e) {
        return unexpected(make_error(errc::storage_failure,
                                     fmt::format("{} is unreadable: {}", path.string(), e.what())));
    }
    return std::optional(std::move(out));
}

result<void, error> partition_manager::retire_legacy(const fs::path& data_dir) {
    std::error_code ec;
    fs::rename(data_dir / metadata_file, data_dir / retired_metadata_file, ec);
    if (ec) return unexpected(storage_error("cannot rename metadata.json", ec));
    if (auto st = storage::sync_directory(data_dir); !st) {
        return unexpected(storage_error("cannot sync " + data_dir.string(), st.error()));
    }
    return {};
}

fs::path partition_manager::partition_dir(const std::string& name, int32_t index) const {
    return _data_dir / topics_dir / fmt::format("{}-{}", name, index);
}

result<void, error> partition_manager::remove_dir(const fs::path& dir) {
    // Renamed first, so a topic re-created with the same name never sees the old files.
    std::error_code ec;
    auto to = _data_dir / topics_dir /
              fmt::format("{}{}-{}", deleted_prefix, dir.filename().string(), hex(random_uuid()));
    fs::rename(dir, to, ec);
    if (ec) return unexpected(storage_error("cannot remove " + dir.string(), ec));
    fs::remove_all(to, ec);  // a leftover is removed at the next start
    return {};
}

result<void, error> partition_manager::reconcile(const image_ptr& img, core::node_id self) {
    std::unique_lock lock(_mutex);
    if (_image && img->applied_offset < _image->applied_offset) return {};
    auto log = ::trib::log::get("cluster");
    bool first = !_image;
    image_ptr previous = _image;
    _image = img;
    std::optional<error> failure;
    auto note = [&](error e) {
        log->error("{}", e.message);
        if (!failure) failure = std::move(e);
    };

    // What this node holds: the partitions it is a replica of, or moving to or from.
    std::map<std::pair<std::string, int32_t>, const core::topic*> wanted;
    for (const auto& [name, t] : img->topics) {
        for (size_t i = 0; i < t.partitions.size(); ++i) {
            const auto replicas = core::all_replicas(t, static_cast<int32_t>(i));
            if (std::find(replicas.begin(), replicas.end(), self) != replicas.end()) {
                wanted[{name, static_cast<int32_t>(i)}] = &t;
            }
        }
    }
    // Partitions no longer ours, or whose topic was deleted and re-created: closed, removed.
    for (auto it = _partitions.begin(); it != _partitions.end();) {
        auto w = wanted.find(it->first);
        if (w != wanted.end() && _partition_topic[it->first] == w->second->id) {
            ++it;
            continue;
        }
        auto [name, index] = it->first;
        ++it;
        close_partition_locked(name, index);
        log->info("removing partition {}-{}: its topic is gone or it moved", name, index);
        if (auto r = remove_dir(partition_dir(name, index)); !r) note(r.error());
    }
    if (first) {
        // At start: directories of topics deleted while we were down, and leftovers.
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(_data_dir / topics_dir, ec)) {
            auto dir_name = entry.path().filename().string();
            bool ours = false;
            for (const auto& [key, t] : wanted) {
                if (fmt::format("{}-{}", key.first, key.second) != dir_name) continue;
                auto on_disk = read_topic_id(entry.path());
                ours = !on_disk || *on_disk == t->id;  // no id: a directory from before ids
            }
            if (ours) continue;
            log->warn("removing {}: no topic of this node owns it", entry.path().string());
            std::error_code rm;
            fs::remove_all(entry.path(), rm);
            if (rm) note(storage_error("cannot remove " + entry.path().string(), rm));
        }
    }
    // New partitions of ours are opened (created if need be); settings follow the image.
    for (const auto& [key, t] : wanted) {
        if (auto open = _partitions.find(key); open != _partitions.end()) {
            const core::topic* before = previous ? previous->find_topic(t->id) : nullptr;
            if (before == nullptr || before->configs != t->configs) {
                open->second->update_settings(effective_settings(_defaults, t->configs));
            }
            auto moving = t->moving.find(key.second);
            open->second->set_assignment(
                core::all_replicas(*t, key.second),
                moving == t->moving.end() ? core::replica_list{} : moving->second);
            continue;
        }
        auto p = open_partition(*t, key.second);
        if (!p) {
            note(p.error());
            continue;
        }
        _partitions[key] = std::move(*p);
        _partition_topic[key] = t->id;
    }
    return failure ? result<void, error>(unexpected(*failure)) : result<void, error>();
}

result<std::shared_ptr<partition>, error> partition_manager::open_partition(const core::topic& t,
                                                                            int32_t index) {
    TRIB_ASSERT_MSG(_replication.host != nullptr, "partitions opened before bind");
    auto settings = effective_settings(_defaults, t.configs);
    auto dir = partition_dir(t.name, index);
    std::error_code ec;
    bool existed = fs::exists(dir, ec);
    fs::create_directories(dir, ec);
    if (ec) return unexpected(storage_error("cannot create " + dir.string(), ec));
    if (!read_topic_id(dir)) {
        auto text = hex(t.id);
        auto st = storage::write_file_durably(
            dir / topic_id_file,
            std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
        if (!st) {
            return unexpected(
                storage_error("cannot write the topic id in " + dir.string(), st.error()));
        }
    }
    // A new group's voters are the partition's replicas; a replica the partition is moving to
    // is none of them, so it never campaigns before the leader makes it a voter.
    const core::replica_list& replicas = t.partitions[static_cast<size_t>(index)];
    const core::replica_list members = core::all_replicas(t, index);
    auto moving = t.moving.find(index);
    raft::configuration voters{.voters = {replicas.begin(), replicas.end()}};
    std::sort(voters.voters.begin(), voters.voters.end());
    // With peers, damaged data is dropped and sent again by the leader; alone, it is kept.
    auto store = raft::log_store::open(
        dir, voters, settings.log, dir,
        members.size() > 1 ? raft::damage_repair::from_peers : raft::damage_repair::keep);
    if (!store) return unexpected(storage_error("cannot open " + dir.string(), store.error().code));
    uint64_t group = t.groups[static_cast<size_t>(index)];
    auto p = std::make_shared<partition>(
        t.name, index, (*store)->data(), settings,
        partition::raft_binding{
            .host = _replication.host,
            .post = _replication.post,
            .group = group,
            .self = _replication.self,
            .replicas = members,
            .tick_ms = _replication.tick_ms,
            .election_ticks = _replication.election_ticks,
            .replica_lag_max_ms = _replication.replica_lag_max_ms,
            .preferred_leader_check_ms = _replication.preferred_leader_check_ms,
            .target = moving == t.moving.end() ? core::replica_list{} : moving->second,
            .finish_move = _replication.finish_move});
    // Idempotent producers' sequences come back from the batch headers.
    if (auto st = p->rebuild((*store)->snapshot(), wall_clock_ms()); !st) {
        return unexpected(
            storage_error("cannot read the batch headers of " + dir.string(), st.error()));
    }
    bool fresh = (*store)->state().term == 0 && (*store)->last_offset() < 0;
    auto g = _replication.host->insert_group(group, std::move(*store), _replication.election_ticks,
                                             p->observer());
    if (!g) return unexpected(g.error());
    // A replica alone in its group has committed all it holds (raft_node): it serves that from
    // now on, even if its log takes no appends (damage found at open).
    p->observer().committed((*g)->node().commit_offset());
    p->on_leadership_change(
        [this](const partition& changed) { announce({announcement_of(changed)}); });
    // Alone, or the preferred leader of a new group: no need to wait out a timeout first.
    bool member = std::find(replicas.begin(), replicas.end(), _replication.self) != replicas.end();
    if (member && (replicas.size() == 1 || (fresh && replicas.front() == _replication.self))) {
        (*g)->node().campaign();
    }
    (*g)->pump();
    if (!existed) {
        ::trib::log::get("cluster")->info("created partition {}-{} (Raft group {}, replicas {})",
                                          t.name, index, group, fmt::join(members, ","));
    }
    std::weak_ptr<partition> weak = p;
    _cleaner.add(
        p->shared_log(),
        [weak]() -> int64_t {
            auto alive = weak.lock();
            return alive ? alive->committed_end() : 0;  // only committed data is cleaned
        },
        [weak](int64_t new_start) {
            if (auto alive = weak.lock()) alive->retain_from(new_start);
        });
    return p;
}

void partition_manager::close_partition_locked(const std::string& name, int32_t index) {
    auto it = _partitions.find({name, index});
    if (it == _partitions.end()) return;
    it->second->close();
    _replication.host->remove_group(it->second->group());
    _leaders.forget(it->second->group());
    _cleaner.remove(&it->second->log());
    _partitions.erase(it);
    _partition_topic.erase({name, index});
}

size_t partition_manager::hand_over_leaderships() {
    std::vector<std::shared_ptr<partition>> held;
    {
        std::shared_lock lock(_mutex);
        for (const auto& [key, p] : _partitions)
            held.push_back(p);
    }
    // Without the lock: a handover pumps the group, whose listeners announce.
    size_t pending = 0;
    for (const auto& p : held) {
        if (p->hand_over()) ++pending;
    }
    return pending;
}

void partition_manager::close_all() {
    std::unique_lock lock(_mutex);
    while (!_partitions.empty()) {
        auto [name, index] = _partitions.begin()->first;
        close_partition_locked(name, index);
    }
}

leader_announcement partition_manager::announcement_of(const partition& p) const {
    auto l = p.leader();
    return {.group = p.group(),
            .leader = l.local ? _replication.self : -1,
            .term = l.epoch,
            .in_sync = l.local ? p.in_sync() : std::vector<int32_t>{}};
}

void partition_manager::announce(const std::vector<leader_announcement>& items) {
    if (items.empty() || !_replication.announce) return;
    // Only what this node leads is news to others; a step-down is learnt from the next
    // leader's announcement (a higher term).
    std::vector<leader_announcement> mine;
    for (const auto& a : items) {
        if (a.leader == _replication.self) mine.push_back(a);
    }
    if (mine.empty()) return;
    for (const auto& a : mine)
        _leaders.learn(a);
    auto payload = encode_announcements(mine);
    // On the Raft loop, which alone writes _image (reconcile): read without the lock, which
    // reconcile may be holding right now (a partition it opens is elected at once).
    if (!_image) return;
    for (const auto& [id, b] : _image->brokers) {
        if (id != _replication.self && !b.fenced) _replication.announce(id, payload);
    }
}

bool partition_manager::on_announcement(std::span<const uint8_t> payload) {
    auto items = decode_announcements(payload);
    if (!items) return false;
    for (const auto& a : *items)
        _leaders.learn(a);
    return true;
}

void partition_manager::tick() {
    constexpr int64_t announce_every_ms = 2000;
    int64_t now = steady_clock_ms();
    if (now < _next_announce_ms) return;
    _next_announce_ms = now + announce_every_ms;
    std::vector<leader_announcement> items;
    {
        std::shared_lock lock(_mutex);
        for (const auto& [key, p] : _partitions) {
            if (p->leader().local) items.push_back(announcement_of(*p));
        }
    }
    announce(items);
}

partition_state partition_manager::state_of(const core::image& img, const core::topic& t,
                                            int32_t index) const {
    partition_state out;
    uint64_t group = t.groups[static_cast<size_t>(index)];
    const auto replicas = core::all_replicas(t, index);
    std::shared_ptr<partition> local = get(t.name, index);
    if (local) {
        auto l = local->leader();
        out.leader = l.leader;
        out.epoch = l.epoch;
        out.in_sync = local->in_sync();
    }
    auto known = _leaders.find(group);
    // This node's own past announcement says less than its Raft group does now: a leader cut
    // off from its peers steps down, and must not go on naming itself to clients.
    bool self_stale =
        known && local && known->leader == _replication.self && !local->leader().local;
    if (known && !self_stale && known->term > out.epoch) {
        // Another replica announced a newer leadership than this one has heard of.
        out.leader = known->leader;
        out.epoch = known->term;
        out.in_sync = known->in_sync;
        if (local && known->leader != _replication.self) local->set_in_sync(known->in_sync);
    } else if (known && !self_stale && local && known->term == out.epoch &&
               !local->leader().local) {
        out.in_sync = known->in_sync;
        local->set_in_sync(known->in_sync);
    }
    if (out.leader >= 0 && (!img.live(out.leader) || !reachable(out.leader))) out.leader = -1;
    if (out.in_sync.empty()) out.in_sync = replicas;
    std::erase_if(out.in_sync, [&](int32_t r) { return !img.live(r); });
    return out;
}

void partition_manager::set_reachable(int32_t node, bool reachable) {
    std::lock_guard lock(_reach_mutex);
    if (reachable) {
        _unreachable.erase(node);
    } else if (node != _replication.self) {
        _unreachable.insert(node);
    }
}

bool partition_manager::reachable(int32_t node) const {
    std::lock_guard lock(_reach_mutex);
    return !_unreachable.contains(node);
}

partition_manager::image_ptr partition_manager::image() const {
    std::shared_lock lock(_mutex);
    return _image ? _image : std::make_shared<const core::image>();
}

std::string partition_manager::cluster_id() const {
    return image()->cluster_id;
}

namespace {

topic_info info_of(const core::topic& t) {
    return {t.name, t.id, static_cast<int32_t>(t.partitions.size()), t.configs, t.partitions};
}

}  // namespace

std::vector<topic_info> partition_manager::topics() const {
    auto img = image();
    std::vector<topic_info> out;
    for (const auto& [name, t] : img->topics)
        out.push_back(info_of(t));
    return out;
}

std::optional<topic_info> partition_manager::topic(const std::string& name) const {
    auto img = image();
    const core::topic* t = img->find_topic(name);
    if (t == nullptr) return std::nullopt;
    return info_of(*t);
}

std::optional<topic_info> partition_manager::topic_by_id(const topic_id& id) const {
    auto img = image();
    const core::topic* t = img->find_topic(id);
    if (t == nullptr) return std::nullopt;
    return info_of(*t);
}

std::shared_ptr<partition> partition_manager::get(const std::string& name, int32_t index) const {
    std::shared_lock lock(_mutex);
    auto it = _partitions.find({name, index});
    return it == _partitions.end() ? nullptr : it->second;
}

}  // namespace trib::cluster
