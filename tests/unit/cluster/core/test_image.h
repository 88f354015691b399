// Shared fixtures for the controller state machine's tests: brokers and topics by number.
#pragma once

#include <string>

#include "cluster/core/metadata.h"

namespace trib::cluster::core::testing {

inline broker make_broker(node_id id, uint64_t incarnation = 1,
                          std::optional<std::string> rack = std::nullopt) {
    broker b;
    b.id = id;
    b.kafka = {"127.0.0.1", static_cast<uint16_t>(9092 + id)};
    b.rpc = {"127.0.0.1", static_cast<uint16_t>(9192 + id)};
    b.rack = std::move(rack);
    b.incarnation = incarnation;
    return b;
}

inline topic_id make_id(uint8_t n) {
    topic_id id{};
    id[0] = n;
    id[15] = 0xaa;
    return id;
}

inline topic make_topic(const std::string& name, uint8_t id, std::vector<replica_list> parts) {
    topic t;
    t.id = make_id(id);
    t.name = name;
    t.partitions = std::move(parts);
    return t;
}

// An image with brokers 1..n registered, applied from offset 0 on; `next` is the next offset.
struct log_image {
    image img;
    int64_t next = 0;
    apply_result run(const command& c) { return apply(img, c, next++); }
    explicit log_image(int brokers = 3) {
        run(init_cluster{"cluster-a"});
        for (int i = 1; i <= brokers; ++i) {
            run(register_broker{make_broker(i)});
        }
    }
};

}  // namespace trib::cluster::core::testing
