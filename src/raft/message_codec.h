// Raft messages on the wire between nodes. A frame from one node to another holds messages
// of many groups back to back; the sender and receiver are the connection's two ends, so
// messages carry neither. Heartbeats and their answers take 33 bytes each, so one frame per
// tick carries every group's heartbeats to a peer. Layout: docs/formats/raft-rpc.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "raft/core/types.h"

namespace trib::raft {

using group_id = uint64_t;

struct addressed_message {
    group_id group = 0;
    message msg;
};

// Appends one message's encoding to `out`.
void encode_message(group_id group, const message& m, std::vector<uint8_t>& out);
// Every message in a frame from `from` to `to`; any malformed byte fails the whole frame
// (the connection is then closed: a peer that sends garbage is not trusted further).
result<std::vector<addressed_message>> decode_frame(std::span<const uint8_t> frame, node_id from,
                                                    node_id to);

}  // namespace trib::raft
