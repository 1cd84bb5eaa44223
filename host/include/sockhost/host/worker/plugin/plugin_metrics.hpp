// The metrics plugins declare (plugin.h, ABI 1.3), in the worker's metrics table
// (shared/worker_metrics.hpp): declared while an instance is created, then updated with
// relaxed atomics from any thread, fiber or request child.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/worker_metrics.hpp>
#include <sockhost/plugin.h>

#include <cstddef>
#include <cstdint>
#include <string>

// The host's side of the ABI's opaque sockhost_instance_context: what declare_metric
// and instance_info need to know of the instance being created. Lives for its
// create_with_context call; not copied once `info` points into it.
struct sockhost_instance_context {
    sockhost::MetricsTable *table = nullptr;
    int listener = -1;   // its index in the configuration's listeners
    std::string plugin;  // for log lines
    bool open = true;    // false once create returned: declare_metric and instance_info refuse
    std::string listener_name;  // what info's strings point to
    std::string address;
    sockhost_instance_info info{};
};

namespace sockhost {

// The table plugin metrics go to: the installed one (request_metrics.hpp), or, with
// `metrics` off or in a program without a supervisor, a process-local one nobody reads,
// so that declarations and updates behave the same.
MetricsTable &plugin_metrics_table();

// Declares a metric for the listener's instance in `table`: checked (metric_check.hpp),
// the same declaration for the same listener found again, a name of this worker declared
// otherwise refused, a slot claimed and published. Errors say why, without the name.
Result<PluginMetric *> declare_plugin_metric(MetricsTable &table, int listener, sockhost_metric_kind kind,
                                             const char *name, const char *help, const double *bounds,
                                             std::size_t bound_count);

// Updates; each does nothing for nullptr or a metric of another kind.
void add_to_counter(PluginMetric *metric, std::uint64_t amount);
void set_gauge(PluginMetric *metric, double value);
void add_to_gauge(PluginMetric *metric, double amount);
void observe_histogram(PluginMetric *metric, double value);

}  // namespace sockhost
