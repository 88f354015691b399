// Where new partitions' replicas go, decided by the controller leader before it proposes a
// topic (so applying the entry needs no choice). Over the live brokers, each replica goes to
// the broker holding the fewest replicas; among equals, a partition's first replica (its
// preferred leader) goes to the one leading fewest partitions and the others to the one
// following fewest, then the lower id. Greedy, but it lays a fresh cluster out as evenly as
// round robin does and fills in where existing load is uneven. With racks set, a partition's
// replicas take racks it does not use yet while there are any.
#pragma once

#include <optional>
#include <vector>

#include "cluster/core/metadata.h"

namespace trib::cluster::core {

// Replica lists for `count` new partitions with `replication_factor` replicas each (both
// > 0); nullopt when fewer brokers are live (and not being decommissioned) than the
// replication factor.
std::optional<std::vector<replica_list>> place_replicas(const image& img, int32_t count,
                                                        int32_t replication_factor);

// Decommissioning `node`: moves for up to `max_moves` of the partitions that still hold a
// replica on it and are not moving now, each with that replica swapped for the live broker
// (not decommissioned, not already a replica) holding the fewest replicas; the swap keeps
// the replica's place in the list, so a preferred leader's successor leads. `stuck` gets the
// partitions no such broker is left for, as "topic-partition".
std::vector<reassign_partition> plan_drain(const image& img, node_id node, size_t max_moves,
                                           std::vector<std::string>* stuck = nullptr);

}  // namespace trib::cluster::core
