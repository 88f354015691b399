#include "base/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace trib::metrics {

std::shared_ptr<prometheus::Registry> shared_registry() {
    static const auto r = std::make_shared<prometheus::Registry>();
    return r;
}

prometheus::Registry& registry() {
    return *shared_registry();
}

prometheus::Counter& counter(const std::string& name, const std::string& help, const labels& l) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry()).Add(l);
}

prometheus::Histogram& histogram(const std::string& name, const std::string& help,
                                 const std::vector<double>& buckets, const labels& l) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(registry()).Add(l, buckets);
}

const std::vector<double>& latency_buckets() {
    static const std::vector<double> b{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                       1,      2.5,     5,      10,    30};
    return b;
}

}  // namespace trib::metrics
