// All the Raft groups of one node on one event loop: the node-to-node transport they share,
// the tick that drives their timers, and the outgoing buffers that gather every message for
// a peer during one turn of the loop into one frame (so a tick's heartbeats of all groups to
// a peer are one frame and one write).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "raft/group.h"
#include "rpc/transport.h"

namespace trib::raft {

struct host_config {
    node_id id = no_node;
    std::map<node_id, rpc::peer_address> peers;  // every voter's address, ours included
    // Where we listen and what peers are told; by default our own entry in `peers` (a node
    // that is no voter must set them).
    std::optional<rpc::peer_address> listen;
    std::optional<rpc::peer_address> advertised;
    std::string cluster_id;     // empty until known
    std::filesystem::path dir;  // one subdirectory per group
    int tick_ms = 100;
    raft_options options;  // id and seed are set per group
    storage::log_config log_config;
    size_t flush_threads = 4;
};

class host {
  public:
    // Messages for a peer leave in frames of about this size at most (one message may be
    // larger: a snapshot, or an append of max_append_bytes).
    static constexpr size_t frame_target_bytes = 4 << 20;

    host(asio::io_context& loop, host_config config);
    ~host();
    host(const host&) = delete;
    host& operator=(const host&) = delete;

    // Listens on our own address from `peers` (port 0 there picks one) and starts ticking.
    result<void, error> start();
    uint16_t port() const { return _transport.port(); }
    // Frames other than Raft's (the controller's requests and answers) go to this handler;
    // it returns false for a malformed one (the connection is closed).
    using rpc_handler = std::function<bool(node_id from, std::span<const uint8_t> payload)>;
    void set_rpc_handler(rpc_handler handler) { set_handler(rpc_channel, std::move(handler)); }
    // Sends a payload to `to`'s rpc handler (best effort, like every frame); with `at`, to
    // the process there that says it is `to` (see transport::send_to).
    void send_rpc(node_id to, std::span<const uint8_t> payload, const rpc::peer_address& at = {}) {
        send_on(rpc_channel, to, payload, at);
    }
    // Frames start with a channel byte: 0 is Raft's, 1 the controller's, 2 the partitions'
    // leadership announcements.
    static constexpr uint8_t rpc_channel = 1;
    static constexpr uint8_t leadership_channel = 2;
    void set_handler(uint8_t channel, rpc_handler handler);
    void send_on(uint8_t channel, node_id to, std::span<const uint8_t> payload,
                 const rpc::peer_address& at = {});
    rpc::transport& transport() { return _transport; }
    // Opens (or creates) a group in `dir/group-<id>`; `bootstrap` are its voters if it is new.
    result<group*, error> add_group(group_id id, configuration bootstrap,
                                    group::commit_fn on_commit = {});
    // A data partition's group on a store the caller opened (its segments and state in one
    // directory, its own log settings), with its own election timeout (ticks; 0: the
    // host's) and the events its state machine follows.
    result<group*, error> insert_group(group_id id, std::unique_ptr<log_store> store,
                                       int election_ticks, group::observer events);
    // Closes a group (its files stay); messages for it are dropped from now on.
    void remove_group(group_id id);
    group* find(group_id id);
    const raft_options& options() const { return _config.options; }
    void stop();
    const rpc::transport_stats& transport_stats() const { return _transport.stats(); }
    // Raft logs waiting for a sync thread (the flush queue's depth).
    size_t flushes_waiting() const { return _flusher.waiting(); }

  private:
    void schedule_tick();
    bool on_frame(node_id from, std::span<const uint8_t> frame);
    void queue(node_id to, group_id g, const message& m);
    void flush_outgoing();

    asio::io_context& _loop;
    host_config _config;
    storage::flusher _flusher;
    rpc::transport _transport;
    asio::steady_timer _ticker;
    std::map<group_id, std::unique_ptr<group>> _groups;
    std::map<node_id, std::vector<uint8_t>> _outgoing;
    std::map<uint8_t, rpc_handler> _handlers;
    bool _flush_posted = false;
    bool _stopped = false;
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);  // for queued handlers
};

}  // namespace trib::raft
