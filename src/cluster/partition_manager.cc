#include "cluster/partition_manager.h"

#include <charconv>
#include <chrono>
#include <fstream>
#include <random>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/assert.h"
#include "base/clock.h"
#include "base/logging.h"
#include "cluster/errc.h"
#include "storage/file.h"

namespace trib::cluster {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* metadata_file = "metadata.json";
constexpr const char* topics_dir = "topics";
constexpr const char* deleted_prefix = ".deleted-";
constexpr int32_t max_partitions = 100000;

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

// Cluster ids are 22-character URL-safe base64 of 16 bytes, like Kafka's.
std::string cluster_id_of(const std::array<uint8_t, 16>& id) {
    static const char* alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t b : id) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            out += alphabet[(acc >> (bits - 6)) & 0x3f];
            bits -= 6;
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

}  // namespace

partition_manager::partition_manager(fs::path data_dir, topic_defaults defaults,
                                     std::chrono::milliseconds cleaner_interval,
                                     size_t flush_threads)
    : _data_dir(std::move(data_dir)),
      _defaults(defaults),
      _flusher(flush_threads),
      _cleaner(cleaner_interval) {}

partition_manager::~partition_manager() = default;

result<std::unique_ptr<partition_manager>, error> partition_manager::open(
    const fs::path& data_dir, topic_defaults defaults, std::chrono::milliseconds cleaner_interval,
    size_t flush_threads) {
    std::unique_ptr<partition_manager> pm(
        new partition_manager(data_dir, defaults, cleaner_interval, flush_threads));
    TRIB_TRY(pm->load());
    return pm;
}

fs::path partition_manager::partition_dir(const std::string& name, int32_t index) const {
    return _data_dir / topics_dir / fmt::format("{}-{}", name, index);
}

result<void, error> partition_manager::load() {
    std::error_code ec;
    fs::create_directories(_data_dir / topics_dir, ec);
    if (ec) return unexpected(storage_error("cannot create the topics directory", ec));
    auto path = _data_dir / metadata_file;
    if (fs::exists(path, ec)) {
        json doc;
        try {
            std::ifstream in(path);
            doc = json::parse(in);
            _cluster_id = doc.at("cluster_id").get<std::string>();
            for (const auto& t : doc.at("topics")) {
                topic_info info;
                info.name = t.at("name").get<std::string>();
                auto id = parse_hex_id(t.at("id").get<std::string>());
                if (!id) throw std::runtime_error("bad topic id");
                info.id = *id;
                info.partitions = t.at("partitions").get<int32_t>();
                info.configs = t.at("configs").get<config_overrides>();
                _topics[info.name] = std::move(info);
            }
        } catch (const std::exception& e) {
            return unexpected(
                make_error(errc::storage_failure,
                           fmt::format("{} is unreadable: {}", path.string(), e.what())));
        }
    } else {
        _cluster_id = cluster_id_of(random_uuid());
        TRIB_TRY(save_locked());
    }
    // Partition directories of topics that no longer exist (an interrupted delete or create)
    // go; every known partition is opened, which recovers its log.
    std::set<std::string> expected;
    for (const auto& [name, t] : _topics) {
        for (int32_t i = 0; i < t.partitions; ++i) {
            expected.insert(fmt::format("{}-{}", name, i));
        }
    }
    for (const auto& entry : fs::directory_iterator(_data_dir / topics_dir, ec)) {
        auto name = entry.path().filename().string();
        if (expected.contains(name)) continue;
        ::trib::log::get("cluster")->warn("removing {}: no topic owns it", entry.path().string());
        fs::remove_all(entry.path(), ec);
        if (ec) return unexpected(storage_error("cannot remove " + entry.path().string(), ec));
    }
    if (ec) return unexpected(storage_error("cannot list the topics directory", ec));
    for (const auto& [name, t] : _topics) {
        for (int32_t i = 0; i < t.partitions; ++i) {
            auto p = open_partition(t, i);
            if (!p) return unexpected(p.error());
            _partitions[{name, i}] = std::move(*p);
        }
    }
    return {};
}

result<void, error> partition_manager::save_locked() const {
    json doc;
    doc["cluster_id"] = _cluster_id;
    doc["topics"] = json::array();
    for (const auto& [name, t] : _topics) {
        doc["topics"].push_back({{"name", name},
                                 {"id", hex(t.id)},
                                 {"partitions", t.partitions},
                                 {"configs", t.configs}});
    }
    auto text = doc.dump(2);
    auto st = storage::write_file_durably(
        _data_dir / metadata_file,
        std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    if (!st) return unexpected(storage_error("cannot write the topic metadata", st.error()));
    return {};
}

result<std::shared_ptr<partition>, error> partition_manager::open_partition(const topic_info& t,
                                                                            int32_t index) {
    auto settings = effective_settings(_defaults, t.configs);
    auto dir = partition_dir(t.name, index);
    auto opened = storage::log::open(dir, settings.log);
    if (!opened) return unexpected(storage_error("cannot open " + dir.string(), opened.error()));
    std::shared_ptr<storage::log> log(std::move(*opened));
    auto p = std::make_shared<partition>(t.name, index, log, settings);
    // Idempotent producers' sequences come back from the batch headers.
    auto replayed = log->for_each_batch_header([&](const model::batch_header& h) {
        if (h.producer_id >= 0 && !h.is_control()) {
            p->producers().record(h, h.base_offset, h.last_offset(), h.max_timestamp);
        }
    });
    if (!replayed) {
        return unexpected(
            storage_error("cannot read the batch headers of " + dir.string(), replayed.error()));
    }
    p->producers().expire(wall_clock_ms());
    std::weak_ptr<partition> weak = p;
    _flusher.add(log, [weak] {
        if (auto alive = weak.lock()) alive->wake_waiters();
    });
    _cleaner.add(log);
    return p;
}

void partition_manager::close_partition_locked(const std::string& name, int32_t index) {
    auto it = _partitions.find({name, index});
    if (it == _partitions.end()) return;
    _flusher.remove(&it->second->log());
    _cleaner.remove(&it->second->log());
    _partitions.erase(it);
}

result<topic_info, error> partition_manager::create_topic(const std::string& name,
                                                          int32_t partitions,
                                                          const config_overrides& configs,
                                                          bool validate_only) {
    TRIB_TRY(validate_topic_name(name));
    if (partitions <= 0 || partitions > max_partitions) {
        return unexpected(make_error(errc::invalid_partitions,
                                     fmt::format("number of partitions must be 1 to {}, not {}",
                                                 max_partitions, partitions)));
    }
    auto normalised = TRIB_TRY(validate_configs(configs));
    std::unique_lock lock(_mutex);
    if (_topics.contains(name)) {
        return unexpected(
            make_error(errc::topic_exists, fmt::format("topic '{}' already exists", name)));
    }
    topic_info t{name, random_uuid(), partitions, std::move(normalised)};
    if (validate_only) return t;
    _topics[name] = t;
    if (auto saved = save_locked(); !saved) {
        _topics.erase(name);
        return unexpected(saved.error());
    }
    for (int32_t i = 0; i < partitions; ++i) {
        auto p = open_partition(t, i);
        if (!p) return unexpected(p.error());  // the next start retries opening it
        _partitions[{name, i}] = std::move(*p);
    }
    ::trib::log::get("cluster")->info("created topic {} partitions={}", name, partitions);
    return t;
}

result<void, error> partition_manager::delete_topic(const std::string& name) {
    std::vector<std::pair<fs::path, fs::path>> moves;
    {
        std::unique_lock lock(_mutex);
        auto it = _topics.find(name);
        if (it == _topics.end()) {
            return unexpected(
                make_error(errc::unknown_topic, fmt::format("topic '{}' does not exist", name)));
        }
        topic_info t = it->second;
        _topics.erase(it);
        if (auto saved = save_locked(); !saved) {
            _topics[name] = t;
            return unexpected(saved.error());
        }
        for (int32_t i = 0; i < t.partitions; ++i) {
            close_partition_locked(name, i);
            auto from = partition_dir(name, i);
            auto to = _data_dir / topics_dir /
                      fmt::format("{}{}-{}-{}", deleted_prefix, name, i, hex(random_uuid()));
            moves.emplace_back(from, to);
        }
        // Renamed under the lock, so a topic re-created with the same name starts empty.
        for (const auto& [from, to] : moves) {
            std::error_code ec;
            fs::rename(from, to, ec);
            if (ec) return unexpected(storage_error("cannot remove " + from.string(), ec));
        }
    }
    for (const auto& [from, to] : moves) {
        std::error_code ec;
        fs::remove_all(to, ec);  // a leftover is removed at the next start
    }
    ::trib::log::get("cluster")->info("deleted topic {}", name);
    return {};
}

result<void, error> partition_manager::add_partitions(const std::string& name, int32_t total,
                                                      bool validate_only) {
    std::unique_lock lock(_mutex);
    auto it = _topics.find(name);
    if (it == _topics.end()) {
        return unexpected(
            make_error(errc::unknown_topic, fmt::format("topic '{}' does not exist", name)));
    }
    int32_t current = it->second.partitions;
    if (total <= current || total > max_partitions) {
        return unexpected(make_error(
            errc::invalid_partitions,
            fmt::format("topic '{}' has {} partitions; the new count must be more, up to {}", name,
                        current, max_partitions)));
    }
    if (validate_only) return {};
    it->second.partitions = total;
    if (auto saved = save_locked(); !saved) {
        it->second.partitions = current;
        return unexpected(saved.error());
    }
    for (int32_t i = current; i < total; ++i) {
        auto p = open_partition(it->second, i);
        if (!p) return unexpected(p.error());
        _partitions[{name, i}] = std::move(*p);
    }
    return {};
}

result<void, error> partition_manager::set_configs(const std::string& name,
                                                   const config_overrides& configs,
                                                   bool validate_only) {
    auto normalised = TRIB_TRY(validate_configs(configs));
    std::unique_lock lock(_mutex);
    auto it = _topics.find(name);
    if (it == _topics.end()) {
        return unexpected(
            make_error(errc::unknown_topic, fmt::format("topic '{}' does not exist", name)));
    }
    if (validate_only) return {};
    auto previous = it->second.configs;
    it->second.configs = normalised;
    if (auto saved = save_locked(); !saved) {
        it->second.configs = previous;
        return unexpected(saved.error());
    }
    auto settings = effective_settings(_defaults, normalised);
    for (int32_t i = 0; i < it->second.partitions; ++i) {
        if (auto p = _partitions.find({name, i}); p != _partitions.end()) {
            p->second->update_settings(settings);
        }
    }
    return {};
}

std::vector<topic_info> partition_manager::topics() const {
    std::shared_lock lock(_mutex);
    std::vector<topic_info> out;
    for (const auto& [name, t] : _topics)
        out.push_back(t);
    return out;
}

std::optional<topic_info> partition_manager::topic(const std::string& name) const {
    std::shared_lock lock(_mutex);
    auto it = _topics.find(name);
    if (it == _topics.end()) return std::nullopt;
    return it->second;
}

std::optional<topic_info> partition_manager::topic_by_id(const topic_id& id) const {
    std::shared_lock lock(_mutex);
    for (const auto& [name, t] : _topics) {
        if (t.id == id) return t;
    }
    return std::nullopt;
}

std::shared_ptr<partition> partition_manager::get(const std::string& name, int32_t index) const {
    std::shared_lock lock(_mutex);
    auto it = _partitions.find({name, index});
    return it == _partitions.end() ? nullptr : it->second;
}

}  // namespace trib::cluster
