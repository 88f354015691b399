// The controller leader's decisions: everything that needs a clock, randomness or a choice
// is settled here before a command is proposed, so applying it stays deterministic.
#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/clock.h"
#include "base/logging.h"
#include "cluster/controller.h"
#include "cluster/core/codec.h"
#include "cluster/core/placement.h"
#include "raft/host.h"

namespace trib::cluster {

namespace {

constexpr int32_t max_partitions = 100000;

// 22 characters of URL-safe base64 over 16 random bytes, like Kafka's cluster ids.
std::string random_cluster_id() {
    static const char* alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto id = random_topic_id();
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t b : id) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            out += alphabet[(acc >> (bits - 6)) & 0x3f];
            bits -= 6;
        }
    }
    if (bits > 0) {
        out += alphabet[(acc << (6 - bits)) & 0x3f];
    }
    return out;
}

controller_response refuse(errc code, std::string message) {
    return {.code = code, .message = std::move(message)};
}

errc errc_of(core::outcome o) {
    switch (o) {
        case core::outcome::applied:
        case core::outcome::ignored:
            return errc::none;
        case core::outcome::topic_exists:
            return errc::topic_exists;
        case core::outcome::unknown_topic:
            return errc::unknown_topic;
        case core::outcome::unknown_broker:
            return errc::unknown_broker;
        case core::outcome::invalid_assignment:
            return errc::invalid_replica_assignment;
        case core::outcome::unknown_partition:
            return errc::unknown_topic;  // Kafka's UNKNOWN_TOPIC_OR_PARTITION covers both
        case core::outcome::no_reassignment:
            return errc::no_reassignment;
    }
    return errc::invalid_request;
}

}  // namespace

bool controller::leading() const {
    return _group->node().role() == raft::role::leader && !_group->failed();
}

void controller::leader_duties(int64_t now) {
    int64_t term = _group->node().term();
    if (_led_term != term) {
        // A new leader has heard from nobody yet: every broker gets a full session.
        _led_term = term;
        _last_heartbeat_ms.clear();
        for (const auto& [id, b] : _image.brokers) {
            _last_heartbeat_ms[id] = now;
        }
        _fencing.clear();
        _cluster_id_proposed = false;
        log::get("controller")->info("node {} leads the controller in term {}", _config.self, term);
    }
    if (_image.cluster_id.empty() && !_cluster_id_proposed) {
        _cluster_id_proposed = true;
        std::string id =
            _config.initial_cluster_id.empty() ? random_cluster_id() : _config.initial_cluster_id;
        propose(core::init_cluster{id}, request_kind::register_broker, nullptr);
    }
    for (const auto& [id, b] : _image.brokers) {
        if (b.fenced || _fencing.contains(id)) {
            continue;
        }
        auto seen = _last_heartbeat_ms.find(id);
        int64_t last = seen == _last_heartbeat_ms.end() ? now : seen->second;
        if (seen == _last_heartbeat_ms.end()) {
            _last_heartbeat_ms[id] = now;
        }
        if (now - last > _config.session_timeout_ms) {
            log::get("controller")
                ->warn("broker {} sent no heartbeat for {} ms: fencing it", id, now - last);
            _fencing[id] = b.incarnation;
            propose(core::fence_broker{id, b.incarnation}, request_kind::broker_heartbeat, nullptr);
        }
    }
    drain_brokers();
}

int64_t controller::propose(const core::command& cmd, request_kind kind, reply_fn reply) {
    auto offset = _group->propose(core::command_batch(cmd, wall_clock_ms()));
    if (!offset) {
        if (reply) {
            reply(refuse(errc::not_controller, fmt::format("the controller cannot take it: {}",
                                                           offset.error().message())));
        }
        return -1;
    }
    _proposals[*offset] = proposal{_group->node().term(), std::move(reply), kind};
    _group->pump();
    return *offset;
}

void controller::drain_brokers() {
    // One round at a time: the next is planned from an image that holds this one's moves.
    if (_image.draining.empty() || _image.applied_offset < _drain_proposed_through) return;
    constexpr size_t moves_at_once = 4;  // per broker: each re-replicates a whole partition
    for (core::node_id id : _image.draining) {
        size_t moving = 0;
        for (const auto& [name, t] : _image.topics) {
            for (const auto& [index, target] : t.moving) {
                const auto& current = t.partitions[static_cast<size_t>(index)];
                if (std::find(current.begin(), current.end(), id) != current.end()) ++moving;
            }
        }
        if (moving >= moves_at_once) continue;
        std::vector<std::string> stuck;
        for (auto& move : core::plan_drain(_image, id, moves_at_once - moving, &stuck)) {
            const core::topic* t = _image.find_topic(move.id);
            log::get("controller")
                ->info("decommissioning broker {}: moving {}-{} to replicas {}", id, t->name,
                       move.partition, fmt::join(move.target, ","));
            int64_t offset = propose(move, request_kind::reassign_partition, nullptr);
            _drain_proposed_through = std::max(_drain_proposed_through, offset);
        }
        if (!stuck.empty() && _drain_stuck_logged.insert(id).second) {
            log::get("controller")
                ->warn(
                    "decommissioning broker {}: no other live broker can take {} (add a "
                    "broker or lower their replication factor)",
                    id, fmt::join(stuck, ", "));
        }
    }
}

void controller::answer_proposals(int64_t offset, int64_t term, const core::apply_result& r) {
    auto it = _proposals.find(offset);
    if (it == _proposals.end()) {
        return;
    }
    proposal p = std::move(it->second);
    _proposals.erase(it);
    if (!p.reply) {
        return;
    }
    if (p.term != term) {
        // Our entry was replaced by another leader's: it never took effect.
        p.reply(refuse(errc::not_controller, "the controller leader changed before it committed"));
        return;
    }
    controller_response a{
        .code = errc_of(r.result), .offset = offset, .first_producer_id = r.first_producer_id};
    if (a.code != errc::none) {
        a.message = std::string(core::to_string(r.result));
    }
    p.reply(std::move(a));
}

void controller::fail_proposals_from(int64_t offset) {
    // Entries at or after `offset` that are not ours any more (a leader-start or config entry
    // took their place, or we lost the lead) will never answer: answer them now.
    for (auto it = _proposals.lower_bound(offset); it != _proposals.end();) {
        if (_group->node().role() == raft::role::leader && it->first > _image.applied_offset) {
            ++it;
            continue;
        }
        if (it->second.reply) {
            it->second.reply(
                refuse(errc::not_controller, "the controller leader changed before it committed"));
        }
        it = _proposals.erase(it);
    }
    std::erase_if(_fencing, [&](const auto& f) {
        auto b = _image.brokers.find(f.first);
        return b == _image.brokers.end() || b->second.fenced || b->second.incarnation != f.second;
    });
}

void controller::execute(const controller_request& req, reply_fn reply) {
    int64_t now = steady_clock_ms();
    const core::broker& b = req.broker;
    switch (req.kind) {
        case request_kind::register_broker: {
            auto it = _image.brokers.find(b.id);
            if (it != _image.brokers.end()) {
                const core::broker& old = it->second;
                auto seen = _last_heartbeat_ms.find(b.id);
                bool alive = !old.fenced && seen != _last_heartbeat_ms.end() &&
                             now - seen->second <= _config.session_timeout_ms;
                if (alive && old.incarnation != b.incarnation && old.dir_id != b.dir_id) {
                    reply(refuse(errc::duplicate_broker,
                                 fmt::format("node id {} is held by a live broker at {}:{} with "
                                             "another data directory; give this node its own "
                                             "node_id",
                                             b.id, old.kafka.host, old.kafka.port)));
                    return;
                }
                core::broker same = b;
                same.fenced = false;
                if (same == old) {
                    _last_heartbeat_ms[b.id] = now;
                    reply({.offset = _image.applied_offset});
                    return;
                }
            }
            _last_heartbeat_ms[b.id] = now;
            _fencing.erase(b.id);
            propose(core::register_broker{b}, req.kind, std::move(reply));
            return;
        }
        case request_kind::broker_heartbeat: {
            auto it = _image.brokers.find(b.id);
            if (it == _image.brokers.end() || it->second.incarnation != b.incarnation) {
                reply(refuse(errc::unknown_broker, "register first"));
                return;
            }
            _last_heartbeat_ms[b.id] = now;
            if (req.shutting_down && !it->second.fenced) {
                log::get("controller")->info("broker {} is shutting down: fencing it", b.id);
                propose(core::fence_broker{b.id, b.incarnation}, req.kind, std::move(reply));
            } else if (!req.shutting_down && it->second.fenced) {
                log::get("controller")->info("broker {} is back: unfencing it", b.id);
                propose(core::unfence_broker{b.id, b.incarnation}, req.kind, std::move(reply));
            } else {
                reply({});
            }
            return;
        }
        case request_kind::decommission_broker:
        case request_kind::recommission_broker: {
            if (!_image.brokers.contains(b.id)) {
                reply(
                    refuse(errc::unknown_broker, fmt::format("no broker {} is registered", b.id)));
                return;
            }
            bool on = req.kind == request_kind::decommission_broker;
            log::get("controller")
                ->info("broker {} {}", b.id,
                       on ? "is being decommissioned: its replicas move away"
                          : "is no longer being decommissioned");
            _drain_stuck_logged.erase(b.id);
            propose(core::drain_broker{b.id, on}, req.kind, std::move(reply));
            return;
        }
        case request_kind::allocate_producer_ids:
            if (req.count <= 0 || req.count > 1'000'000) {
                reply(refuse(errc::invalid_request, "bad producer id block size"));
                return;
            }
            propose(core::allocate_producer_ids{b.id, req.count}, req.kind, std::move(reply));
            return;
        default:
            execute_topic(req, std::move(reply));
            return;
    }
}

void controller::execute_topic(const controller_request& req, reply_fn reply) {
    const core::topic* t = _image.find_topic(req.topic);
    auto unknown = [&] {
        reply(refuse(errc::unknown_topic, fmt::format("Topic '{}' does not exist.", req.topic)));
    };
    switch (req.kind) {
        case request_kind::create_topic: {
            if (t != nullptr && req.keep_topic_id && t->id == *req.keep_topic_id) {
                // A retry of a create this leader (or one before it) carried out, whose answer
                // was lost: it is done, once the asker has applied as much as we have.
                reply({.offset = _image.applied_offset});
                return;
            }
            if (t != nullptr) {
                reply(refuse(errc::topic_exists,
                             fmt::format("Topic '{}' already exists.", req.topic)));
                return;
            }
            std::vector<core::replica_list> replicas = req.assignment;
            if (!replicas.empty()) {
                if (core::check_assignment(_image, replicas) != core::outcome::applied) {
                    reply(refuse(errc::invalid_replica_assignment,
                                 "every partition needs the same number of distinct, "
                                 "registered brokers"));
                    return;
                }
            } else {
                int32_t count = req.partitions < 0 ? _config.default_partitions : req.partitions;
                int32_t rf = req.replication_factor < 0 ? _config.default_replication_factor
                                                        : req.replication_factor;
                if (count == 0 || count > max_partitions) {
                    reply(refuse(
                        errc::invalid_partitions,
                        fmt::format("Number of partitions must be 1 to {}.", max_partitions)));
                    return;
                }
                if (rf <= 0) {
                    reply(refuse(errc::invalid_replication_factor,
                                 "Replication factor must be larger than 0."));
                    return;
                }
                auto placed = core::place_replicas(_image, count, rf);
                if (!placed) {
                    size_t live = 0;
                    for (const auto& [id, br] : _image.brokers) {
                        live += br.fenced ? 0 : 1;
                    }
                    reply(refuse(errc::invalid_replication_factor,
                                 fmt::format("Replication factor: {} larger than available "
                                             "brokers: {}.",
                                             rf, live)));
                    return;
                }
                replicas = std::move(*placed);
            }
            if (req.validate_only) {
                reply({});
                return;
            }
            core::topic created{.id = req.keep_topic_id.value_or(random_topic_id()),
                                .name = req.topic,
                                .configs = req.configs,
                                .partitions = std::move(replicas)};
            propose(core::create_topic{std::move(created)}, req.kind, std::move(reply));
            return;
        }
        case request_kind::delete_topic:
            if (t == nullptr) {
                unknown();
                return;
            }
            propose(core::delete_topic{t->id}, req.kind, std::move(reply));
            return;
        case request_kind::create_partitions: {
            if (t == nullptr) {
                unknown();
                return;
            }
            auto current = static_cast<int32_t>(t->partitions.size());
            if (req.partitions <= current || req.partitions > max_partitions) {
                reply(refuse(errc::invalid_partitions,
                             fmt::format("Topic currently has {} partitions, which is higher than "
                                         "or equal to the requested {}.",
                                         current, req.partitions)));
                return;
            }
            std::vector<core::replica_list> added = req.assignment;
            auto rf = static_cast<int32_t>(t->partitions.front().size());
            if (!added.empty()) {
                if (static_cast<int32_t>(added.size()) != req.partitions - current ||
                    added.front().size() != static_cast<size_t>(rf) ||
                    core::check_assignment(_image, added) != core::outcome::applied) {
                    reply(refuse(errc::invalid_replica_assignment,
                                 fmt::format("the assignment must name {} new partitions of {} "
                                             "distinct, registered brokers",
                                             req.partitions - current, rf)));
                    return;
                }
            } else {
                auto placed = core::place_replicas(_image, req.partitions - current, rf);
                if (!placed) {
                    reply(refuse(errc::invalid_replication_factor,
                                 fmt::format("Replication factor: {} larger than available "
                                             "brokers.",
                                             rf)));
                    return;
                }
                added = std::move(*placed);
            }
            if (req.validate_only) {
                reply({});
                return;
            }
            propose(core::create_partitions{t->id, std::move(added)}, req.kind, std::move(reply));
            return;
        }
        case request_kind::reassign_partition:
        case request_kind::finish_reassignment: {
            if (t == nullptr) {
                unknown();
                return;
            }
            if (req.partitions < 0 || static_cast<size_t>(req.partitions) >= t->partitions.size()) {
                reply(refuse(errc::unknown_topic, fmt::format("Topic '{}' has no partition {}.",
                                                              req.topic, req.partitions)));
                return;
            }
            if (req.assignment.size() > 1 ||
                (req.kind == request_kind::finish_reassignment && req.assignment.empty())) {
                reply(refuse(errc::invalid_request, "one target replica list at most"));
                return;
            }
            core::replica_list target =
                req.assignment.empty() ? core::replica_list{} : req.assignment.front();
            if (req.kind == request_kind::finish_reassignment) {
                propose(core::finish_reassignment{t->id, req.partitions, std::move(target)},
                        req.kind, std::move(reply));
                return;
            }
            if (target.empty() && !t->moving.contains(req.partitions)) {
                reply(refuse(errc::no_reassignment,
                             fmt::format("No reassignment of {}-{} is in progress.", req.topic,
                                         req.partitions)));
                return;
            }
            if (!target.empty() &&
                core::check_assignment(_image, {target}) != core::outcome::applied) {
                reply(refuse(errc::invalid_replica_assignment,
                             "the replicas must be distinct, registered brokers"));
                return;
            }
            if (req.validate_only) {
                reply({});
                return;
            }
            log::get("controller")
                ->info("partition {}-{}: {}", req.topic, req.partitions,
                       target.empty()
                           ? std::string("move cancelled")
                           : fmt::format("moving to replicas {}", fmt::join(target, ",")));
            propose(core::reassign_partition{t->id, req.partitions, std::move(target)}, req.kind,
                    std::move(reply));
            return;
        }
        case request_kind::set_topic_configs:
            if (t == nullptr) {
                unknown();
                return;
            }
            if (req.validate_only) {
                reply({});
                return;
            }
            propose(core::set_topic_configs{t->id, req.configs}, req.kind, std::move(reply));
            return;
        default:
            reply(refuse(errc::invalid_request, "unknown request"));
            return;
    }
}

}  // namespace trib::cluster
