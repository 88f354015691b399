// Incremental fetch sessions (KIP-227). A consumer that fetches many partitions sends the
// whole list once; later requests carry only the partitions whose fetch position changed,
// and responses only the partitions with news (records, an error, or a moved high watermark
// or log start). The cache is plain state with the clock passed in, shared by all shards
// behind one mutex; it never holds the lock across a read or a long poll.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace trib::kafka {

// One partition of a fetch as the handler reads it, whether it came from the request or
// from the session.
struct fetch_target {
    std::string topic;
    int32_t partition = 0;
    int64_t fetch_offset = 0;
    int32_t max_bytes = 0;
    int32_t current_leader_epoch = -1;  // KIP-320: -1 asks for no check
    // What the previous response of the session told the client; -1 before the first.
    int64_t sent_high_watermark = -1;
    int64_t sent_log_start = -1;
};

// What one partition's read produced, to decide whether it goes into the response.
struct fetch_outcome {
    int64_t high_watermark = -1;
    int64_t log_start = -1;
    bool has_records = false;
    bool has_error = false;
};

struct fetch_session_request {
    int32_t session_id = 0;
    int32_t epoch = -1;  // 0: open a new session, -1: no session (or close this one)
    std::vector<fetch_target> partitions;                    // added or updated
    std::vector<std::pair<std::string, int32_t>> forgotten;  // removed from the session
};

class fetch_session_cache {
  public:
    static constexpr int32_t initial_epoch = 0;
    static constexpr int32_t final_epoch = -1;

    fetch_session_cache(size_t max_sessions, int64_t eviction_ms)
        : max_sessions_(max_sessions), eviction_ms_(eviction_ms) {}

    struct begin_result {
        int16_t error_code = 0;  // FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH
        int32_t session_id = 0;  // for the response; 0 when the fetch has no session
        bool incremental = false;
        std::vector<fetch_target> targets;  // what to read, in the order to read it
    };

    // Applies the request to its session (creating, updating or closing one) and returns
    // the partitions to read. A session is in use until `finish`; a second request on it
    // meanwhile gets INVALID_FETCH_SESSION_EPOCH.
    begin_result begin(fetch_session_request req, int64_t now_ms);

    // Records what the response told the client and releases the session. Partitions that
    // returned records move to the back, so a byte-limited response rotates fairly. No
    // outcomes: the fetch ended without a response, the session is released unchanged.
    void finish(int32_t session_id, std::span<const fetch_outcome> outcomes, int64_t now_ms);

    // True when the partition belongs in the response (always in a full one).
    static bool worth_sending(const fetch_target& t, const fetch_outcome& o, bool incremental);

    size_t size() const;

  private:
    struct session {
        int32_t next_epoch = 1;
        bool in_use = false;
        int64_t last_used_ms = 0;
        std::vector<fetch_target> partitions;
    };

    int32_t create(const std::vector<fetch_target>& partitions, int64_t now_ms);
    bool evict_one(int64_t now_ms);

    mutable std::mutex mu_;
    size_t max_sessions_;
    int64_t eviction_ms_;
    int32_t last_id_ = 0;
    std::map<int32_t, session> sessions_;
};

}  // namespace trib::kafka
