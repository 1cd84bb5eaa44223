#include <sockhost/host/supervisor/metrics_totals.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace sockhost {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void add_listener(ListenerSums &sums, const ListenerCounters &counters, bool counters_only) {
    for (std::size_t outcome = 0; outcome < kRequestOutcomes; ++outcome) sums.requests[outcome] += counters.requests[outcome].load(kRelaxed);
    for (std::size_t bucket = 0; bucket < kDurationBounds.size() + 1; ++bucket)
        sums.duration_buckets[bucket] += counters.duration_buckets[bucket].load(kRelaxed);
    sums.duration_sum_ns += counters.duration_sum_ns.load(kRelaxed);
    if (!counters_only) sums.connections_open += counters.connections_open.load(kRelaxed);
    sums.connections_accepted += counters.connections_accepted.load(kRelaxed);
    sums.received_bytes += counters.received_bytes.load(kRelaxed);
    sums.sent_bytes += counters.sent_bytes.load(kRelaxed);
    sums.datagrams_truncated += counters.datagrams_truncated.load(kRelaxed);
    sums.accept_errors += counters.accept_errors.load(kRelaxed);
}

// A fixed-size char field as text: up to its first NUL, never past its end.
std::string bounded_text(const char *field, std::size_t capacity) {
    const void *end = std::memchr(field, '\0', capacity);
    return std::string(field, end == nullptr ? capacity : static_cast<std::size_t>(static_cast<const char *>(end) - field));
}

// Help text as one printable line: what is not printable ASCII becomes '?'.
std::string printable(std::string text) {
    for (char &c : text)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    return text;
}

double from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

// Adds one declared slot; a slot whose name, kind, listener or bounds do not make sense,
// or that disagrees with what other workers declared under its name, is skipped.
void add_plugin_metric(MetricsSums &sums, const PluginMetric &metric, const std::vector<MetricLabels> &labels,
                       bool counters_only) {
    if (metric.state.load(std::memory_order_acquire) != PluginMetric::declared) return;
    const PluginMetricKind kind = metric.kind;
    if (kind != PluginMetricKind::counter && kind != PluginMetricKind::gauge && kind != PluginMetricKind::histogram) return;
    if (counters_only && kind == PluginMetricKind::gauge) return;
    const std::int32_t listener = metric.listener;
    if (listener < 0 || static_cast<std::size_t>(listener) >= labels.size()) return;
    const std::string name = bounded_text(metric.name, PluginMetric::kNameCapacity);
    if (!valid_metric_name(name)) return;
    std::vector<double> bounds;
    if (kind == PluginMetricKind::histogram) {
        const std::uint32_t count = metric.bound_count;
        if (count > PluginMetric::kMaxBounds) return;
        for (std::uint32_t index = 0; index < count; ++index) {
            const double bound = metric.bounds[index];
            if (!std::isfinite(bound) || (!bounds.empty() && bound <= bounds.back())) return;
            bounds.push_back(bound);
        }
    }
    auto [family, added] = sums.plugin.try_emplace(name);
    if (added) {
        family->second.kind = kind;
        family->second.help = printable(bounded_text(metric.help, PluginMetric::kHelpCapacity));
        family->second.bounds = bounds;
    } else if (family->second.kind != kind || family->second.bounds != bounds) {
        return;
    }
    PluginSums &sample = family->second.samples[labels[static_cast<std::size_t>(listener)]];
    switch (kind) {
    case PluginMetricKind::counter: sample.counter += metric.value.load(kRelaxed); break;
    case PluginMetricKind::gauge: sample.gauge += from_bits(metric.value.load(kRelaxed)); break;
    default:
        sample.buckets.resize(bounds.size() + 1);
        for (std::size_t bucket = 0; bucket <= bounds.size(); ++bucket) sample.buckets[bucket] += metric.buckets[bucket].load(kRelaxed);
        sample.sum += from_bits(metric.sum_bits.load(kRelaxed));
    }
}

}  // namespace

bool valid_metric_name(std::string_view name) {
    if (name.empty()) return false;
    const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; };
    if (!letter(name.front())) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

void MetricsSums::add(const MetricsTable &table, const std::vector<MetricLabels> &labels, bool counters_only) {
    const std::size_t listener_count = std::min(labels.size(), MetricsTable::kListeners);
    for (std::size_t index = 0; index < listener_count; ++index)
        add_listener(listeners[labels[index]], table.listeners[index], counters_only);
    const std::size_t used =
        std::min<std::size_t>(table.plugin_metrics_used.load(std::memory_order_acquire), MetricsTable::kPluginMetrics);
    for (std::size_t slot = 0; slot < used; ++slot) add_plugin_metric(*this, table.plugin_metrics[slot], labels, counters_only);
}

void MetricsSums::add(const MetricsSums &other) {
    for (const auto &[labels, from] : other.listeners) {
        ListenerSums &into = listeners[labels];
        for (std::size_t outcome = 0; outcome < kRequestOutcomes; ++outcome) into.requests[outcome] += from.requests[outcome];
        for (std::size_t bucket = 0; bucket < kDurationBounds.size() + 1; ++bucket)
            into.duration_buckets[bucket] += from.duration_buckets[bucket];
        into.duration_sum_ns += from.duration_sum_ns;
        into.connections_open += from.connections_open;
        into.connections_accepted += from.connections_accepted;
        into.received_bytes += from.received_bytes;
        into.sent_bytes += from.sent_bytes;
        into.datagrams_truncated += from.datagrams_truncated;
        into.accept_errors += from.accept_errors;
    }
    for (const auto &[name, from] : other.plugin) {
        auto [family, added] = plugin.try_emplace(name, PluginFamily{from.kind, from.help, from.bounds, {}});
        if (!added && (family->second.kind != from.kind || family->second.bounds != from.bounds)) continue;
        for (const auto &[labels, sample] : from.samples) {
            PluginSums &into = family->second.samples[labels];
            into.counter += sample.counter;
            into.gauge += sample.gauge;
            into.buckets.resize(std::max(into.buckets.size(), sample.buckets.size()));
            for (std::size_t bucket = 0; bucket < sample.buckets.size(); ++bucket) into.buckets[bucket] += sample.buckets[bucket];
            into.sum += sample.sum;
        }
    }
}

}  // namespace sockhost
