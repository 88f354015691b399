#include "kafka/server/fetch_session.h"

#include <algorithm>

#include "base/assert.h"
#include "kafka/protocol/error_codes.h"

namespace trib::kafka {

namespace {

bool same_partition(const fetch_target& t, const std::string& topic, int32_t partition) {
    return t.partition == partition && t.topic == topic;
}

}  // namespace

fetch_session_cache::begin_result fetch_session_cache::begin(fetch_session_request req,
                                                             int64_t now_ms) {
    std::lock_guard lock(mu_);
    begin_result out;
    bool full = req.epoch == initial_epoch || req.epoch == final_epoch;
    if (full) {
        // A full request closes the session it names, if any, and may open a new one.
        if (req.session_id != 0) {
            auto it = sessions_.find(req.session_id);
            if (it != sessions_.end() && !it->second.in_use) sessions_.erase(it);
        }
        if (req.epoch == initial_epoch) out.session_id = create(req.partitions, now_ms);
        out.targets =
            out.session_id != 0 ? sessions_[out.session_id].partitions : std::move(req.partitions);
        return out;
    }
    auto it = sessions_.find(req.session_id);
    if (req.session_id == 0 || it == sessions_.end()) {
        out.error_code = error_code::fetch_session_id_not_found;
        return out;
    }
    session& s = it->second;
    if (s.in_use || req.epoch != s.next_epoch) {
        out.error_code = error_code::invalid_fetch_session_epoch;
        return out;
    }
    for (const auto& gone : req.forgotten) {
        std::erase_if(s.partitions, [&](const fetch_target& t) {
            return same_partition(t, gone.first, gone.second);
        });
    }
    for (auto& update : req.partitions) {
        auto known = std::find_if(s.partitions.begin(), s.partitions.end(), [&](const auto& t) {
            return same_partition(t, update.topic, update.partition);
        });
        if (known == s.partitions.end()) {
            s.partitions.push_back(std::move(update));
        } else {
            known->fetch_offset = update.fetch_offset;
            known->max_bytes = update.max_bytes;
            known->current_leader_epoch = update.current_leader_epoch;
        }
    }
    s.next_epoch = s.next_epoch == INT32_MAX ? 1 : s.next_epoch + 1;
    s.in_use = true;
    s.last_used_ms = now_ms;
    out.session_id = req.session_id;
    out.incremental = true;
    out.targets = s.partitions;
    return out;
}

void fetch_session_cache::finish(int32_t session_id, std::span<const fetch_outcome> outcomes,
                                 int64_t now_ms) {
    if (session_id == 0) return;
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    session& s = it->second;
    s.in_use = false;
    s.last_used_ms = now_ms;
    if (outcomes.empty()) return;  // the fetch ended without a response: nothing was sent
    // A full request that opened the session read its partitions in the same order; an
    // incremental one read them all. Either way outcome i belongs to partition i.
    TRIB_ASSERT(outcomes.size() == s.partitions.size());
    std::vector<fetch_target> quiet;
    std::vector<fetch_target> returned;
    for (size_t i = 0; i < outcomes.size(); ++i) {
        auto& t = s.partitions[i];
        if (worth_sending(t, outcomes[i], true)) {
            t.sent_high_watermark = outcomes[i].high_watermark;
            t.sent_log_start = outcomes[i].log_start;
        }
        (outcomes[i].has_records ? returned : quiet).push_back(std::move(t));
    }
    s.partitions = std::move(quiet);
    std::move(returned.begin(), returned.end(), std::back_inserter(s.partitions));
}

bool fetch_session_cache::worth_sending(const fetch_target& t, const fetch_outcome& o,
                                        bool incremental) {
    return !incremental || o.has_records || o.has_error ||
           o.high_watermark != t.sent_high_watermark || o.log_start != t.sent_log_start;
}

size_t fetch_session_cache::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

int32_t fetch_session_cache::create(const std::vector<fetch_target>& partitions, int64_t now_ms) {
    if (max_sessions_ == 0) return 0;
    if (sessions_.size() >= max_sessions_ && !evict_one(now_ms)) return 0;
    do {
        last_id_ = last_id_ == INT32_MAX ? 1 : last_id_ + 1;
    } while (sessions_.contains(last_id_));
    session& s = sessions_[last_id_];
    for (const auto& t : partitions) {  // a partition named twice counts once, as its last
        std::erase_if(s.partitions, [&](const fetch_target& known) {
            return same_partition(known, t.topic, t.partition);
        });
        s.partitions.push_back(t);
    }
    s.in_use = true;  // until the response that opens it is recorded
    s.last_used_ms = now_ms;
    return last_id_;
}

// Evicts the least recently used session idle longer than the eviction time; a busy
// consumer's session is never taken from it, the newcomer goes without one instead.
bool fetch_session_cache::evict_one(int64_t now_ms) {
    auto oldest = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (it->second.in_use || now_ms - it->second.last_used_ms < eviction_ms_) continue;
        if (oldest == sessions_.end() || it->second.last_used_ms < oldest->second.last_used_ms) {
            oldest = it;
        }
    }
    if (oldest == sessions_.end()) return false;
    sessions_.erase(oldest);
    return true;
}

}  // namespace trib::kafka
