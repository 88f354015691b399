// The admin API's JSON documents, built from the controller's image and this node's
// partitions (thread-safe reads only).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "admin/admin_server.h"

namespace trib::admin {

nlohmann::json cluster_view(const sources& src);
nlohmann::json brokers_view(const sources& src);
nlohmann::json topics_view(const sources& src);
// nullopt: no such topic.
std::optional<nlohmann::json> topic_view(const sources& src, const std::string& name);

// The consumer groups this node coordinates, with each committed partition's lag in records
// and in seconds (now minus the timestamp of the first record not yet consumed; known where
// this node holds a replica of the partition).
nlohmann::json groups_view(const sources& src);
std::optional<nlohmann::json> group_view(const sources& src, const std::string& id);

// Why this node is not ready to serve (empty: ready): not started, cut off from the
// controller, or a partition it leads out of service.
std::vector<std::string> not_ready_reasons(const sources& src);

// The node's state as Prometheus text: the registry's series and the gauges read now.
std::string metrics_text(const sources& src);

}  // namespace trib::admin
