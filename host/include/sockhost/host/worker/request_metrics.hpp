// Where a worker's requests count themselves: the metrics table the supervisor gave it
// (shared/worker_metrics.hpp), installed once before any server starts and inherited by
// request children. Without one (`metrics` off) nothing is counted.
#pragma once

#include <sockhost/host/shared/worker_metrics.hpp>

namespace sockhost {

void install_metrics_table(MetricsTable *table);
MetricsTable *installed_metrics_table();

// The counters of the listener at `listener_index` in the configuration; nullptr when
// nothing is counted (no table, or an index past MetricsTable::kListeners).
ListenerCounters *listener_counters(int listener_index);

}  // namespace sockhost
