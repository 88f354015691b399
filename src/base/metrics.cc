#include "base/metrics.h"

#include <prometheus/registry.h>

namespace trib::metrics {

std::shared_ptr<prometheus::Registry> shared_registry() {
    static const auto r = std::make_shared<prometheus::Registry>();
    return r;
}

prometheus::Registry& registry() {
    return *shared_registry();
}

}  // namespace trib::metrics
