// Why a cluster operation was refused; the Kafka handlers map each to its protocol error.
#pragma once

#include <system_error>

namespace trib::cluster {

enum class errc {
    unknown_topic = 1,
    topic_exists,
    invalid_topic_name,
    invalid_partitions,
    invalid_replication_factor,
    invalid_config,
    storage_failure,
};
const std::error_category& cluster_category();
inline std::error_code make_error_code(errc e) {
    return {static_cast<int>(e), cluster_category()};
}

}  // namespace trib::cluster

template <>
struct std::is_error_code_enum<trib::cluster::errc> : std::true_type {};
