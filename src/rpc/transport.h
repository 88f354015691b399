// Node-to-node connections. Each node listens on its own port; to reach a peer it keeps one
// outgoing connection (opened on demand, reopened after a failure) and writes frames on it.
// Frames queued while a write is under way leave together in the next write, so everything
// a node sends a peer in one turn of its loop (every group's heartbeats of one tick) shares
// one syscall. Delivery is best effort: a frame that cannot be sent is dropped, as Raft
// expects of a network, and counted.
//
// Wire (docs/formats/raft-rpc.md): a connection opens with a versioned hello naming the
// sender, the receiver it means, the sender's advertised address and its cluster id; the
// receiver answers with a status byte and a reason. It refuses a hello meant for another
// node id (the nodes disagree on the voters or addresses) and one from another cluster
// (both ids known and different); a sender it did not know becomes a peer at the address it
// advertised (a broker that registers). Then frames, each a u32 length and that many bytes;
// a frame over max_frame_bytes closes the connection.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "base/error.h"
#include "base/result.h"

namespace trib::rpc {

using node_id = int32_t;

struct peer_address {
    std::string host;
    uint16_t port = 0;
    friend bool operator==(const peer_address&, const peer_address&) = default;
};

// Who we are on the wire.
struct identity {
    node_id self = -1;
    peer_address advertised;  // where peers reach us
    std::string cluster_id;   // empty until known
};

struct transport_stats {
    uint64_t frames_sent = 0;
    uint64_t writes = 0;  // syscalls' worth: frames sent together count once
    uint64_t frames_dropped = 0;
    uint64_t frames_received = 0;
    uint64_t connections_refused = 0;  // bad hello, oversized or rejected frames
};

class transport {
  public:
    // Returns false to close the connection the frame came on (it held garbage).
    using frame_handler = std::function<bool(node_id from, std::span<const uint8_t> frame)>;

    // `peers` are known up front (the controller voters) and keep their addresses; others are
    // added by add_peer or by their hello.
    transport(asio::io_context& loop, identity self, const std::map<node_id, peer_address>& peers,
              frame_handler on_frame, size_t max_frame_bytes = 64 << 20,
              size_t max_queued_bytes = 64 << 20);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // Binds and starts accepting (port 0 picks one; see port()).
    result<void, error> listen(const std::string& host, uint16_t port);
    uint16_t port() const;
    // Queues `frame` for `to` (on the loop's thread). Dropped if the peer is unknown or its
    // queue already holds max_queued_bytes.
    void send(node_id to, std::span<const uint8_t> frame);
    // Queues `frame` for the process at `at` that says it is `to` (its own connection when
    // that is not where `to`'s traffic goes): the answer to a request that named its
    // sender's address reaches that sender, even one claiming another's id.
    void send_to(node_id to, const peer_address& at, std::span<const uint8_t> frame);
    // Called on the loop when connecting to a peer fails after it worked (or from the
    // start), and when it works again: a peer whose process died refuses at once, long
    // before any timeout says it is gone.
    void on_reachability(std::function<void(node_id, bool reachable)> fn);
    // Adds a peer, or moves one that was not given up front to a new address.
    void add_peer(node_id id, const peer_address& address);
    bool knows(node_id id) const;
    // Once the cluster id is known, hellos carry it and peers of another cluster are refused.
    void set_cluster_id(const std::string& id);
    // Closes every connection and the listener; queued frames are dropped.
    void stop();
    const transport_stats& stats() const;

  private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

}  // namespace trib::rpc
