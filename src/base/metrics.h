// The process's Prometheus registry (prometheus-cpp): modules add their metric families to it
// once, keep pointers to the series they update, and the admin API serializes it for
// /metrics. The header stays free of prometheus-cpp; the .cc files that record include it.
#pragma once

#include <memory>

namespace prometheus {
class Registry;
}

namespace trib::metrics {

// Created on first use; lives as long as the process.
prometheus::Registry& registry();
std::shared_ptr<prometheus::Registry> shared_registry();

}  // namespace trib::metrics
