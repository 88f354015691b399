#include "kafka/groups/group_manager.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/logging.h"
#include "kafka/protocol/error_codes.h"
#include "model/record_batch.h"

namespace trib::kafka::groups {

namespace {

// Java's String.hashCode over the UTF-16 code units (ASCII ids: one unit per byte), so a
// group lands in the partition a Kafka broker would choose.
int32_t java_string_hash(const std::string& s) {
    uint32_t h = 0;
    for (unsigned char c : s)
        h = 31 * h + c;
    return static_cast<int32_t>(h);
}

constexpr size_t max_replay_batch = size_t{64} << 20;
constexpr int64_t write_timeout_ms = 30'000;

}  // namespace

group_manager::group_manager(cluster::partition_manager& pm, group_manager_config cfg,
                             std::string member_id_prefix)
    : _partitions(pm), _cfg(cfg), _coordinator(cfg.coordinator, std::move(member_id_prefix)) {}

result<std::unique_ptr<group_manager>, error> group_manager::open(cluster::partition_manager& pm,
                                                                  group_manager_config cfg,
                                                                  std::string member_id_prefix,
                                                                  int64_t now_ms) {
    std::unique_ptr<group_manager> gm(new group_manager(pm, cfg, std::move(member_id_prefix)));
    TRIB_TRY(gm->refresh(now_ms));
    return gm;
}

int32_t group_manager::partition_for(const std::string& group_id) const {
    int32_t h = java_string_hash(group_id);
    // Kafka's Utils.abs: INT_MIN maps to 0, not to itself.
    int32_t positive = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return positive % _cfg.log_partitions;
}

result<void, error> group_manager::refresh(int64_t now_ms) {
    std::lock_guard lock(_mutex);
    // The topic decides the partition count once it exists (a group's partition follows it).
    if (auto t = _partitions.topic(log_topic)) _cfg.log_partitions = t->partitions;
    size_t records = 0;
    size_t skipped = 0;
    size_t loaded = 0;
    std::set<int32_t> fresh;
    for (int32_t p = 0; p < _cfg.log_partitions; ++p) {
        auto part = _partitions.get(log_topic, p);
        bool leading = part && part->leader().ready;
        if (!leading) {
            // Led elsewhere now: this node stops answering for its groups (NOT_COORDINATOR);
            // the next time it leads, it loads them afresh from the log.
            if (_loaded.erase(p) > 0) {
                _coordinator.unload(
                    [&](const std::string& group_id) { return partition_for(group_id) == p; });
            }
            continue;
        }
        if (_loaded.contains(p)) continue;
        TRIB_TRY(replay(*part, records, skipped));
        _loaded.insert(p);
        fresh.insert(p);
        ++loaded;
    }
    if (loaded == 0) return {};
    // Only the groups just loaded: the others' sessions run on.
    _coordinator.finish_load(now_ms, [&](const std::string& group_id) {
        return fresh.contains(partition_for(group_id));
    });
    log::get("groups")->info("group log replayed: {} records from {} partitions ({} skipped)",
                             records, loaded, skipped);
    return {};
}

group_manager::ownership group_manager::owner_of(const std::string& group_id) const {
    std::lock_guard lock(_mutex);
    if (!_partitions.topic(log_topic)) return ownership::elsewhere;
    int32_t p = partition_for(group_id);
    auto part = _partitions.get(log_topic, p);
    if (!part || !part->leader().local) return ownership::elsewhere;
    return _loaded.contains(p) && part->leader().ready ? ownership::here : ownership::loading;
}

result<void, error> group_manager::replay(cluster::partition& part, size_t& records,
                                          size_t& skipped) {
    int64_t offset = part.log_start();
    int64_t end = part.high_watermark();  // what is committed
    while (offset < end) {
        auto got = part.read(offset, size_t{1} << 20);
        if (!got) {
            return unexpected(
                error{got.error(), fmt::format("cannot read {}-{} at {}: {}", log_topic,
                                               part.index(), offset, got.error().message())});
        }
        std::span<const uint8_t> data = got->data;
        while (!data.empty()) {
            auto h = model::parse_batch_header(data);
            if (!h) break;
            auto batch = data.subspan(0, h->size_bytes());
            auto st =
                model::for_each_record(batch, max_replay_batch, [&](const model::record_view& r) {
                    if (!r.key) {
                        ++skipped;
                        return;
                    }
                    bytes key(r.key->begin(), r.key->end());
                    std::optional<bytes> value;
                    if (r.value) value.emplace(r.value->begin(), r.value->end());
                    _coordinator.replay(key, value);
                    ++records;
                });
            if (!st) ++skipped;
            data = data.subspan(h->size_bytes());
        }
        if (got->next_offset <= offset) break;
        offset = got->next_offset;
    }
    return {};
}

int16_t group_manager::write(std::vector<log_record> records, std::vector<durable_mark>& marks,
                             const asio::any_io_executor* executor) {
    if (records.empty()) return error_code::none;
    std::map<int32_t, std::vector<model::record>> by_partition;
    int64_t now = wall_clock_ms();
    for (auto& r : records) {
        model::record out;
        out.timestamp = now;
        out.key = std::move(r.key);
        out.value = std::move(r.value);
        by_partition[partition_for(r.group_id)].push_back(std::move(out));
    }
    int16_t result = error_code::none;
    for (auto& [p, batch_records] : by_partition) {
        auto part = _partitions.get(log_topic, p);
        if (!part || !part->leader().local) {
            result = error_code::not_coordinator;
            continue;
        }
        auto batch = model::build_batch({}, batch_records);
        if (!batch) {
            result = error_code::coordinator_not_available;
            continue;
        }
        cluster::replicate_request write{.acks = cluster::acks_level::all,
                                         .deadline_ms = steady_clock_ms() + write_timeout_ms,
                                         .now_ms = now};
        write.batches.push_back(std::move(*batch));
        std::shared_ptr<net::later<cluster::replicate_result>> answer;
        if (executor != nullptr) {
            answer = std::make_shared<net::later<cluster::replicate_result>>(*executor);
        }
        int32_t index = p;  // clang cannot capture a structured binding
        part->replicate(std::move(write), [answer, index](cluster::replicate_result r) {
            if (answer) {
                answer->set(r);
            } else if (r.code != cluster::replicate_errc::none) {
                log::get("groups")->warn("a write to {}-{} failed", log_topic, index);
            }
        });
        if (answer) marks.push_back({part, answer});
    }
    return result;
}

constexpr int64_t sweep_interval_ms = 1000;

void group_manager::tick(int64_t now_ms) {
    std::vector<durable_mark> ignored;
    std::lock_guard lock(_mutex);
    if (now_ms >= _next_sweep) {
        _coordinator.tick(now_ms);
        _next_sweep = now_ms + sweep_interval_ms;
    } else {
        _coordinator.fire_due(now_ms);
    }
    // Expiry tombstones need no one to wait for them.
    (void)write(_coordinator.take_records(), ignored, nullptr);
}

int64_t group_manager::next_tick_locked() const {
    return std::min(_next_sweep, _coordinator.next_deadline().value_or(INT64_MAX));
}

int64_t group_manager::next_tick() {
    std::lock_guard lock(_mutex);
    _armed_for = next_tick_locked();
    return _armed_for;
}

void group_manager::on_earlier_deadline(std::function<void()> wake) {
    std::lock_guard lock(_mutex);
    _wake = std::move(wake);
}

void group_manager::announce_deadline() {
    if (!_wake) return;
    auto next = next_tick_locked();
    if (next >= _armed_for) return;
    _armed_for = next;
    _wake();
}

}  // namespace trib::kafka::groups

namespace trib::kafka::groups {

void group_manager::abandon_waiters() {
    std::lock_guard lock(_mutex);
    _coordinator.abandon_waiters();
    _wake = nullptr;  // it holds a timer of an event loop that is going
}

}  // namespace trib::kafka::groups
