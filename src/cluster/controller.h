// The controller on one node: the controller Raft group (group 0) over `<data>/controller`,
// the metadata image applied from its committed entries, and the node's broker side —
// registration at start and heartbeats to the controller leader. Voters (controller.voters)
// vote; every other node is a learner that receives the same log. On the leader it also
// decides: placement, topic ids, producer-id blocks, fencing brokers whose heartbeats stop.
//
// Threading: everything runs on the controller's own event loop thread (which also drives the
// partitions' Raft groups: see raft_host()); the Kafka shards read
// the image through image() (an immutable snapshot behind a mutex) and ask for changes with
// submit(), whose answer comes on the controller thread once the change is applied on this
// node. Metadata flow and formats: docs/ARCHITECTURE.md, docs/formats/controller.md.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/result.h"
#include "cluster/controller_rpc.h"
#include "cluster/core/metadata.h"
#include "rpc/transport.h"
#include "storage/log.h"

namespace trib::raft {
class host;
class group;
}  // namespace trib::raft

namespace trib::cluster {

struct controller_config {
    core::node_id self = 0;
    std::map<core::node_id, rpc::peer_address> voters;
    rpc::peer_address rpc_listen;
    rpc::peer_address rpc_advertised;
    core::host_port kafka_advertised;
    std::optional<std::string> rack;
    uint64_t dir_id = 0;
    std::filesystem::path dir;  // the controller log, term/vote and snapshot
    int tick_ms = 100;
    int election_ticks = 10;
    int64_t heartbeat_interval_ms = 1000;
    int64_t session_timeout_ms = 9000;
    int64_t snapshot_every_entries = 1000;
    int32_t default_partitions = 1;
    int16_t default_replication_factor = 1;
    // A new cluster takes this id (an upgraded single node keeps its old one); else random.
    std::string initial_cluster_id;
    storage::log_config log_config;
    size_t flush_threads = 1;
    // Called (on the controller thread) when the node cannot go on: another live process
    // holds its node id. The node stops.
    std::function<void(const std::string&)> on_fatal;
};

class controller {
  public:
    using image_ptr = std::shared_ptr<const core::image>;
    using apply_listener = std::function<void(const image_ptr&)>;
    using reply_fn = std::function<void(controller_response)>;

    static result<std::unique_ptr<controller>, error> open(controller_config config);
    ~controller();
    controller(const controller&) = delete;
    controller& operator=(const controller&) = delete;

    // Listeners run on the controller thread after each applied change, in order; add them
    // before start().
    void on_apply(apply_listener listener);
    // Runs `fn` on the controller thread at every tick; add them before start().
    void on_tick(std::function<void()> fn);
    // The Raft host of this node: the controller's group and every partition's share its
    // loop (the controller thread) and its transport. Use it on that thread only.
    raft::host& raft_host() { return *_host; }
    // Runs `fn` on the controller thread; run_and_wait also waits for it (never call that
    // on the controller thread). After stop() nothing runs.
    void post(std::function<void()> fn);
    void run_and_wait(const std::function<void()>& fn);
    // Listens on rpc.listen, starts the thread, joins the group, registers the broker.
    result<void, error> start();
    // Waits until the image holds what the controller log held when it was opened (or
    // `limit` passes): what this node served before its restart is known again.
    bool wait_caught_up(std::chrono::milliseconds limit);
    // Waits until this broker is registered and live in the applied image (what Metadata
    // lists), or `limit` passes.
    bool wait_registered(std::chrono::milliseconds limit);
    // stop() has begun: requests are answered NOT_CONTROLLER from now on (any thread).
    bool stopping() const { return _stopping.load(); }
    // Tells the leader this broker is going (it is fenced at once), then stops the thread;
    // `none` stops as a crash would look to the others (tests).
    enum class farewell { tell_leader, none };
    void stop(farewell how = farewell::tell_leader);

    // Thread-safe.
    image_ptr image() const;
    core::node_id leader_id() const { return _leader.load(); }
    // Whether this broker has lost touch with the controller: in a cluster of several
    // voters, none of its heartbeats (or its registration) acknowledged for
    // cut_off_after_ms(). Such a node cannot tell clients who leads anything.
    bool cut_off(int64_t now_ms) const;
    int64_t cut_off_after_ms() const;
    core::node_id self() const { return _config.self; }
    bool is_voter() const { return _config.voters.contains(_config.self); }
    // Runs `request` at the controller leader; `reply` (on the controller thread) gets the
    // answer once the change is applied here, or timed_out / not_controller.
    void submit(controller_request request, std::chrono::milliseconds timeout, reply_fn reply);

  private:
    struct forwarded {
        controller_request request;
        reply_fn reply;
        int64_t deadline_ms = 0;
        core::node_id sent_to = -1;
    };
    struct proposal {
        int64_t term = 0;
        reply_fn reply;
        request_kind kind = request_kind::broker_heartbeat;
    };

    explicit controller(controller_config config);
    result<void, error> open_store();

    // controller.cc: the loop, applying, forwarding.
    void schedule_tick();
    void tick();
    void on_commit(int64_t commit);
    void apply_entries(int64_t commit);
    void publish();
    bool on_rpc(core::node_id from, std::span<const uint8_t> payload);
    void handle_submit(controller_request request, int64_t deadline_ms, reply_fn reply);
    void try_forward(uint64_t id, forwarded& f);
    void deliver_when_applied(controller_response response, reply_fn reply);
    void broker_duties(int64_t now);

    // controller_leader.cc: what only the leader does.
    bool leading() const;
    void leader_duties(int64_t now);
    void execute(const controller_request& request, reply_fn reply);
    void execute_topic(const controller_request& request, reply_fn reply);
    // The entry's offset, or -1 when it could not be proposed (`reply` was told).
    int64_t propose(const core::command& cmd, request_kind kind, reply_fn reply);
    // Moves the replicas of decommissioned brokers elsewhere, a few at a time.
    void drain_brokers();
    void answer_proposals(int64_t offset, int64_t term, const core::apply_result& r);
    void fail_proposals_from(int64_t offset);

    controller_config _config;
    struct loop_state;  // the event loop and its timer (asio stays out of this header)
    std::unique_ptr<loop_state> _loop;
    std::unique_ptr<raft::host> _host;
    raft::group* _group = nullptr;
    std::thread _thread;
    std::vector<apply_listener> _listeners;
    std::vector<std::function<void()>> _tick_listeners;

    core::image _image;  // the working copy, controller thread only
    mutable std::mutex _published_mutex;
    image_ptr _published;
    std::atomic<core::node_id> _leader{-1};
    std::atomic<int64_t> _applied{-1};
    int64_t _caught_up_at = -1;  // the log's last offset when opened
    uint64_t _incarnation = 0;

    // apply waiters: answers held until this node has applied the change they name
    std::multimap<int64_t, std::function<void()>> _apply_waiters;
    // leader side
    std::map<int64_t, proposal> _proposals;  // by entry offset
    std::map<core::node_id, int64_t> _last_heartbeat_ms;
    std::map<core::node_id, uint64_t> _fencing;  // broker -> incarnation being fenced
    int64_t _led_term = -1;                      // the term whose leadership duties are set up
    bool _cluster_id_proposed = false;
    int64_t _drain_proposed_through = -1;         // the last move proposed for a drain
    std::set<core::node_id> _drain_stuck_logged;  // said once per decommission
    // forwarding side
    uint64_t _next_request_id = 1;
    std::map<uint64_t, forwarded> _forwarded;
    core::node_id _leader_hint = -1;       // who answered last, or was named as leader
    core::node_id _last_asked_voter = -1;  // a learner without a leader asks voters in turn
    // broker side
    bool _registered = false;
    bool _registering = false;
    bool _heartbeat_in_flight = false;
    std::atomic<int64_t> _last_acknowledged_ms{-1};  // steady clock; -1: not yet registered
    int64_t _next_broker_action_ms = 0;
    std::string _last_registration_error;
    std::atomic<bool> _stopping{false};
};

}  // namespace trib::cluster
