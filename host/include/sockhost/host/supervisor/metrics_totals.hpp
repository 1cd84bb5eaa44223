// The sums behind /metrics and `sockhost status`: every live worker's metrics table
// (shared/worker_metrics.hpp) added up by label set, plus the counters of workers already
// reaped (MetricsTotals), so that no counter goes backwards across crashes, replacements
// and reloads.
//
// A table is untrusted bytes (plugin code runs in the worker that writes it): it is read
// with bounded loops, listener indices and counts range-checked, names validated.
#pragma once

#include <sockhost/host/shared/worker_metrics.hpp>

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sockhost {

// What a listener's samples are labelled with: its address as configured, its plugin and mode.
struct MetricLabels {
    std::string listener;
    std::string plugin;
    std::string mode;
    auto operator<=>(const MetricLabels &) const = default;
};

// One label set's host counters, summed over workers.
struct ListenerSums {
    std::uint64_t requests[kRequestOutcomes]{};
    std::uint64_t duration_buckets[kDurationBounds.size() + 1]{};  // per bucket, not cumulative
    std::uint64_t duration_sum_ns = 0;
    std::int64_t connections_open = 0;  // a gauge: live workers only
    std::uint64_t connections_accepted = 0;
    std::uint64_t received_bytes = 0;
    std::uint64_t sent_bytes = 0;
    std::uint64_t datagrams_truncated = 0;
    std::uint64_t accept_errors = 0;
};

// One plugin metric's value for one label set, summed over workers.
struct PluginSums {
    std::uint64_t counter = 0;
    double gauge = 0;
    std::vector<std::uint64_t> buckets;  // per bucket, bounds then +Inf
    double sum = 0;
};

struct PluginFamily {
    PluginMetricKind kind = PluginMetricKind::none;
    std::string help;
    std::vector<double> bounds;  // histogram: as the first declaring worker gave them
    std::map<MetricLabels, PluginSums> samples;
};

struct MetricsSums {
    std::map<MetricLabels, ListenerSums> listeners;
    std::map<std::string, PluginFamily> plugin;  // by metric name

    // Adds `table`, whose listener i is labelled labels[i]; gauges too unless counters_only.
    void add(const MetricsTable &table, const std::vector<MetricLabels> &labels, bool counters_only);
    void add(const MetricsSums &other);  // everything of `other`
};

// A plugin metric name as Prometheus takes it: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool valid_metric_name(std::string_view name);

// The counters of reaped workers, kept by the supervisor for its lifetime.
class MetricsTotals {
public:
    // A worker was reaped: its counters (never its gauges) are kept.
    void fold(const MetricsTable &table, const std::vector<MetricLabels> &labels) { retired_.add(table, labels, true); }
    const MetricsSums &retired() const { return retired_; }

private:
    MetricsSums retired_;
};

}  // namespace sockhost
