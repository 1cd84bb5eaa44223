#include <sockhost/host/worker/request_metrics.hpp>

namespace sockhost {

namespace {
MetricsTable *installed_table = nullptr;  // set before any thread starts; read only after
}  // namespace

void install_metrics_table(MetricsTable *table) { installed_table = table; }

MetricsTable *installed_metrics_table() { return installed_table; }

ListenerCounters *listener_counters(int listener_index) {
    if (installed_table == nullptr || listener_index < 0 ||
        static_cast<std::size_t>(listener_index) >= MetricsTable::kListeners)
        return nullptr;
    return &installed_table->listeners[listener_index];
}

}  // namespace sockhost
