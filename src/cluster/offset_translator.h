// Kafka offsets over a Raft log. A partition's log is its Raft log, which also holds Raft's
// own batches (a new leader's term-start entry, membership changes). Kafka clients must never
// see those — some (kafka-python) would hand a control record to the application — and their
// offsets must not show up as gaps either, so the Kafka offset of a position in the log is
// its Raft offset minus the Raft-internal offsets before it (as Redpanda translates). Every
// replica holds the same log, so every replica translates alike.
//
// Plain state: the partition serialises access.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace trib::cluster {

// What a data partition's Raft snapshot carries (docs/formats/raft-rpc.md): the internal
// offsets below its point, and the log's start then (a Raft offset; DeleteRecords may put it
// past the point, inside the next entry), so a replica that installs it starts there too.
struct snapshot_payload {
    int64_t internal_below = 0;
    int64_t log_start = 0;
};

class offset_translator {
  public:
    // Starts over at Raft offset `start`, below which `internal_below` offsets were internal.
    void reset(int64_t start, int64_t internal_below);
    // Raft's own batch covers [base, last] (calls come in ascending order).
    void add_internal(int64_t base, int64_t last);
    // The log was cut at `raft_offset`: internal batches there and after are gone.
    void truncate(int64_t raft_offset);

    // The Kafka offset of Raft offset `raft`; for an internal position, that of the next
    // data record (so log ends and high watermarks translate too).
    int64_t to_kafka(int64_t raft) const;
    // The Raft offset of the data record at Kafka offset `kafka` (or where it will be).
    int64_t to_raft(int64_t kafka) const;
    // How many internal offsets lie below Raft offset `raft` (what a snapshot at raft - 1
    // keeps, so translation survives the log prefix it replaces).
    int64_t internal_below(int64_t raft) const;

    static std::vector<uint8_t> encode_snapshot(const snapshot_payload& p);
    static std::optional<snapshot_payload> decode_snapshot(std::span<const uint8_t> bytes);

  private:
    int64_t _start = 0;
    int64_t _base = 0;                                   // internal offsets below _start
    std::vector<std::pair<int64_t, int64_t>> _internal;  // [base, last], ascending, >= _start
};

}  // namespace trib::cluster
