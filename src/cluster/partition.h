// One partition on this node: its log, its settings, and the coroutines waiting for it to
// grow (Fetch long polls) or to become durable (acks=all). Thread-safe: the log has its own
// lock and the waiter list has one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/producer_state.h"
#include "cluster/topic_config.h"
#include "net/async_event.h"
#include "storage/log.h"

namespace trib::cluster {

class partition {
  public:
    partition(std::string topic, int32_t index, std::shared_ptr<storage::log> log,
              const topic_settings& settings)
        : _topic(std::move(topic)), _index(index), _log(std::move(log)), _settings(settings) {}

    const std::string& topic() const { return _topic; }
    int32_t index() const { return _index; }
    storage::log& log() { return *_log; }
    const storage::log& log() const { return *_log; }
    const std::shared_ptr<storage::log>& shared_log() const { return _log; }
    topic_settings settings() const {
        std::lock_guard lock(_waiters_mutex);
        return _settings;
    }
    // AlterConfigs: new settings take effect for the next append, roll and cleaning pass.
    void update_settings(const topic_settings& s) {
        _log->set_config(s.log);
        std::lock_guard lock(_waiters_mutex);
        _settings = s;
    }

    // Single node: every appended record is committed (one replica, like Kafka with an ISR
    // of one). With replication this becomes the Raft commit index.
    int64_t high_watermark() const { return _log->end_offset(); }

    // `event` is signalled at the next append or flush (then forgotten).
    void add_waiter(const std::shared_ptr<net::async_event>& event) {
        std::lock_guard lock(_waiters_mutex);
        // An idle partition is never woken, so waiters of long polls that ended elsewhere
        // pile up: drop the dead ones whenever the list doubles.
        if (_waiters.size() >= _prune_at) {
            std::erase_if(_waiters, [](const auto& w) { return w.expired(); });
            _prune_at = std::max<size_t>(64, _waiters.size() * 2);
        }
        _waiters.push_back(event);
    }
    void wake_waiters() {
        std::vector<std::weak_ptr<net::async_event>> woken;
        {
            std::lock_guard lock(_waiters_mutex);
            woken.swap(_waiters);
        }
        for (auto& w : woken) {
            if (auto e = w.lock()) e->signal();
        }
    }

    // Idempotent producers' sequences: check, append and record under this lock, so two
    // batches of one producer cannot both pass the check.
    std::unique_lock<std::mutex> lock_producers() { return std::unique_lock(_producers_mutex); }
    producer_state& producers() { return _producers; }

  private:
    std::string _topic;
    int32_t _index;
    std::shared_ptr<storage::log> _log;
    topic_settings _settings;
    mutable std::mutex _waiters_mutex;  // also guards _settings
    std::vector<std::weak_ptr<net::async_event>> _waiters;
    size_t _prune_at = 64;
    std::mutex _producers_mutex;
    producer_state _producers;
};

}  // namespace trib::cluster
