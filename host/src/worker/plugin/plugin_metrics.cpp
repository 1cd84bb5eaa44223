#include <sockhost/host/worker/plugin/plugin_metrics.hpp>

#include <sockhost/host/worker/request_metrics.hpp>
#include <sockhost/metric_check.hpp>

#include <bit>
#include <cmath>
#include <cstring>

namespace sockhost {

namespace {

PluginMetricKind kind_of(sockhost_metric_kind kind) {
    switch (kind) {
    case SOCKHOST_METRIC_COUNTER: return PluginMetricKind::counter;
    case SOCKHOST_METRIC_GAUGE: return PluginMetricKind::gauge;
    case SOCKHOST_METRIC_HISTOGRAM: return PluginMetricKind::histogram;
    }
    return PluginMetricKind::none;
}

const char *kind_name(PluginMetricKind kind) {
    switch (kind) {
    case PluginMetricKind::counter: return "counter";
    case PluginMetricKind::gauge: return "gauge";
    case PluginMetricKind::histogram: return "histogram";
    case PluginMetricKind::none: break;
    }
    return "metric";
}

bool same_declaration(const PluginMetric &slot, PluginMetricKind kind, const char *help, const double *bounds,
                      std::size_t bound_count) {
    if (slot.kind != kind || std::strcmp(slot.help, help) != 0 || slot.bound_count != bound_count) return false;
    for (std::size_t at = 0; at < bound_count; ++at)
        if (slot.bounds[at] != bounds[at]) return false;
    return true;
}

// A slot of its own, or nullptr when the table is full: `used` only grows, by one claim
// at a time (declarations run on the main thread; the supervisor only reads).
PluginMetric *claim_slot(MetricsTable &table) {
    std::uint32_t used = table.plugin_metrics_used.load(std::memory_order_relaxed);
    do {
        if (used >= MetricsTable::kPluginMetrics) return nullptr;
    } while (!table.plugin_metrics_used.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
    PluginMetric &slot = table.plugin_metrics[used];
    slot.state.store(PluginMetric::declaring, std::memory_order_relaxed);
    return &slot;
}

// The double held as bits in `cell`, changed by `change` atomically (a CAS loop).
template <typename Change>
void update_double(std::atomic<std::uint64_t> &cell, Change change) {
    std::uint64_t old_bits = cell.load(std::memory_order_relaxed);
    while (!cell.compare_exchange_weak(old_bits, std::bit_cast<std::uint64_t>(change(std::bit_cast<double>(old_bits))),
                                       std::memory_order_relaxed)) {
    }
}

bool is(const PluginMetric *metric, PluginMetricKind kind) { return metric != nullptr && metric->kind == kind; }

}  // namespace

MetricsTable &plugin_metrics_table() {
    if (MetricsTable *installed = installed_metrics_table(); installed != nullptr) return *installed;
    static MetricsTable process_local{};  // zero pages until a plugin declares something
    return process_local;
}

Result<PluginMetric *> declare_plugin_metric(MetricsTable &table, int listener, sockhost_metric_kind abi_kind,
                                             const char *name, const char *help, const double *bounds,
                                             std::size_t bound_count) {
    if (std::string problem = metric_declaration_problem(abi_kind, name, help, bounds, bound_count); !problem.empty())
        return fail(problem);
    const PluginMetricKind kind = kind_of(abi_kind);
    const std::uint32_t used = std::min<std::uint32_t>(table.plugin_metrics_used.load(std::memory_order_relaxed),
                                                       MetricsTable::kPluginMetrics);
    for (std::uint32_t index = 0; index < used; ++index) {
        PluginMetric &slot = table.plugin_metrics[index];
        if (slot.state.load(std::memory_order_acquire) != PluginMetric::declared || std::strcmp(slot.name, name) != 0)
            continue;
        if (!same_declaration(slot, kind, help, bounds, bound_count))
            return fail("declared already, by listener " + std::to_string(slot.listener) + ", as a " +
                        kind_name(slot.kind) + " with other help or bounds");
        if (slot.listener == listener) return &slot;
    }
    PluginMetric *slot = claim_slot(table);
    if (slot == nullptr)
        return fail("the worker's table of " + std::to_string(MetricsTable::kPluginMetrics) +
                    " plugin metrics is full");
    slot->listener = listener;
    slot->kind = kind;
    slot->bound_count = static_cast<std::uint32_t>(bound_count);
    std::strncpy(slot->name, name, PluginMetric::kNameCapacity - 1);
    std::strncpy(slot->help, help, PluginMetric::kHelpCapacity - 1);
    for (std::size_t at = 0; at < bound_count; ++at) slot->bounds[at] = bounds[at];
    slot->state.store(PluginMetric::declared, std::memory_order_release);
    return slot;
}

void add_to_counter(PluginMetric *metric, std::uint64_t amount) {
    if (is(metric, PluginMetricKind::counter)) metric->value.fetch_add(amount, std::memory_order_relaxed);
}

void set_gauge(PluginMetric *metric, double value) {
    if (is(metric, PluginMetricKind::gauge)) metric->value.store(std::bit_cast<std::uint64_t>(value), std::memory_order_relaxed);
}

void add_to_gauge(PluginMetric *metric, double amount) {
    if (is(metric, PluginMetricKind::gauge)) update_double(metric->value, [&](double old) { return old + amount; });
}

void observe_histogram(PluginMetric *metric, double value) {
    if (!is(metric, PluginMetricKind::histogram) || std::isnan(value)) return;
    std::size_t bucket = 0;
    while (bucket < metric->bound_count && value > metric->bounds[bucket]) ++bucket;  // `le`: value <= bound
    metric->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    update_double(metric->sum_bits, [&](double old) { return old + value; });
}

}  // namespace sockhost
