// Why a cluster operation was refused; the Kafka handlers map each to its protocol error.
#pragma once

#include <system_error>

namespace trib::cluster {

enum class errc {
    none = 0,  // (a controller answer's success)
    unknown_topic = 1,
    topic_exists,
    invalid_topic_name,
    invalid_partitions,
    invalid_replication_factor,
    invalid_config,
    storage_failure,
    not_controller,  // no controller leader reachable, or it lost leadership meanwhile
    timed_out,       // no answer within the request's time (the change may still apply)
    invalid_replica_assignment,
    unknown_broker,    // a heartbeat from a broker the controller does not know: register
    duplicate_broker,  // another live process holds this node id
    invalid_request,
    no_reassignment,  // a cancel for a partition that is not moving
};
const std::error_category& cluster_category();
inline std::error_code make_error_code(errc e) {
    return {static_cast<int>(e), cluster_category()};
}

}  // namespace trib::cluster

template <>
struct std::is_error_code_enum<trib::cluster::errc> : std::true_type {};
