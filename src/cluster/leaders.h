// Who leads each partition, as the whole cluster learns it. Raft elects a partition's leader
// among its replicas, so only they know at first; every leader announces its leadership
// (group, term, in-sync replicas) to every broker when it changes and again every few
// seconds, and each node keeps the newest announcement per group (the highest term wins).
// Metadata on a node that holds no replica of a partition answers from this table.
// Format of the announcement: docs/formats/raft-rpc.md ("Leadership announcements").
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace trib::cluster {

struct leader_announcement {
    uint64_t group = 0;
    int32_t leader = -1;
    int64_t term = -1;
    std::vector<int32_t> in_sync;
    friend bool operator==(const leader_announcement&, const leader_announcement&) = default;
};

std::vector<uint8_t> encode_announcements(std::span<const leader_announcement> items);
// nullopt when malformed (every length is checked).
std::optional<std::vector<leader_announcement>> decode_announcements(
    std::span<const uint8_t> bytes);

// Thread-safe.
class leader_table {
  public:
    // Keeps `a` unless the table knows a higher term for its group.
    void learn(const leader_announcement& a);
    std::optional<leader_announcement> find(uint64_t group) const;
    void forget(uint64_t group);

  private:
    mutable std::mutex _mutex;
    std::map<uint64_t, leader_announcement> _by_group;
};

}  // namespace trib::cluster
