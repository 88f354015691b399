// The process's Prometheus registry (prometheus-cpp): modules add their metric families to it
// once, keep references to the series they update, and the admin API serializes it for
// /metrics. The header stays free of prometheus-cpp; the .cc files that record include
// <prometheus/counter.h> or <prometheus/histogram.h> to update what these return.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
class Counter;
class Histogram;
}  // namespace prometheus

namespace trib::metrics {

// Created on first use; lives as long as the process.
prometheus::Registry& registry();
std::shared_ptr<prometheus::Registry> shared_registry();

using labels = std::map<std::string, std::string>;

// One series, its family registered on first use (the same name again gives the same family).
// Call once and keep the reference: the lookup takes the family's lock.
prometheus::Counter& counter(const std::string& name, const std::string& help,
                             const labels& l = {});
prometheus::Histogram& histogram(const std::string& name, const std::string& help,
                                 const std::vector<double>& buckets, const labels& l = {});

// Seconds from 100 µs to 30 s: requests, fsyncs, commits.
const std::vector<double>& latency_buckets();

}  // namespace trib::metrics
