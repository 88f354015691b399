// Consumer groups as the admin API sees them: what this node's coordinator holds, and each
// committed partition's lag, read from the local replica.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "admin/admin_server.h"

namespace prometheus {
class Registry;
}

namespace trib::admin {

struct group_snapshot {
    std::string id;
    std::string state;
    std::string protocol_type;
    size_t members = 0;
    std::vector<std::tuple<std::string, int32_t, int64_t>> offsets;  // topic, partition, committed
};

struct partition_lag {
    int64_t high_watermark = -1;  // -1: no replica here
    int64_t records = -1;
    std::optional<double> seconds;
};

std::vector<group_snapshot> coordinated_groups(const sources& src);
partition_lag lag_of(const sources& src, const std::string& topic, int32_t partition,
                     int64_t committed, int64_t now_ms);
// tributary_group_lag_records, _lag_seconds and _members into a scrape's registry.
void add_group_gauges(const sources& src, prometheus::Registry& r);

}  // namespace trib::admin
