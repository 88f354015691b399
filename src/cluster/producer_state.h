// Idempotent producers' state in one partition: for each producer id, its epoch and its last
// five batches (sequence range and offsets), as Kafka keeps them. A batch from an idempotent
// producer is appended only if it continues the producer's sequence; a retry of one of the
// last five gets its original offsets back without being written again. Rebuilt at open from
// the headers of the partition's log. Plain state: the partition serialises access.
#pragma once

#include <cstdint>
#include <deque>
#include <map>

#include "model/record_batch.h"

namespace trib::cluster {

enum class sequence_verdict {
    append,            // the next batch in sequence (or a producer's first)
    duplicate,         // a retry of a batch already in the log: answer with its offsets
    out_of_order,      // OUT_OF_ORDER_SEQUENCE_NUMBER: a gap or a stale sequence
    invalid_epoch,     // INVALID_PRODUCER_EPOCH: an older epoch than the producer's current
    unknown_producer,  // UNKNOWN_PRODUCER_ID: no state, and the batch is not a first one
};

struct sequence_check {
    sequence_verdict verdict = sequence_verdict::append;
    int64_t base_offset = -1;  // duplicate: where the batch already is
    int64_t last_offset = -1;
};

class producer_state {
  public:
    static constexpr size_t cached_batches = 5;
    // Kafka's producer.id.expiration.ms: a producer silent this long is forgotten (its next
    // batch, if any, gets UNKNOWN_PRODUCER_ID and the client starts a new sequence).
    static constexpr int64_t default_expiration_ms = int64_t{24} * 3600 * 1000;
    static constexpr size_t sweep_every = 1000;  // records between expiry sweeps

    // Whether `h` (an idempotent producer's batch: producer id >= 0) may be appended.
    sequence_check check(const model::batch_header& h) const;
    // `h` was appended at [base_offset, last_offset] at `now_ms` (replaying the log: the
    // batch's max timestamp); now and then, producers idle past the expiration are dropped.
    void record(const model::batch_header& h, int64_t base_offset, int64_t last_offset,
                int64_t now_ms);
    // Drops producers whose last batch is older than the expiration; returns how many.
    size_t expire(int64_t now_ms);
    // The log now starts at `log_start`: batches below it are forgotten, and producers with
    // none left (as Kafka does: their next batch gets UNKNOWN_PRODUCER_ID). Every replica
    // does this where its start moves, so all agree with one that rebuilt its state from a
    // snapshot point on. Returns how many producers went.
    size_t forget_before(int64_t log_start);
    void set_expiration_ms(int64_t ms) { _expiration_ms = ms; }

    size_t producers() const { return _producers.size(); }

  private:
    struct batch {
        int32_t first_sequence;
        int32_t last_sequence;
        int64_t base_offset;
        int64_t last_offset;
    };
    struct producer {
        int16_t epoch = -1;
        int64_t last_seen_ms = 0;
        std::deque<batch> recent;  // oldest first, at most cached_batches
    };
    std::map<int64_t, producer> _producers;
    int64_t _expiration_ms = default_expiration_ms;
    size_t _since_sweep = 0;
};

// The sequence number of a batch's last record (sequences wrap from INT32_MAX to 0).
int32_t last_sequence_of(const model::batch_header& h);

}  // namespace trib::cluster
