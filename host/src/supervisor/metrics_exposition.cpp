#include <sockhost/host/supervisor/metrics_exposition.hpp>

#include <charconv>
#include <cmath>
#include <span>

namespace sockhost {

namespace {

std::string number(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char text[32];
    // The shortest exact form, in plain notation where %g would use it ("0.0001", not "1e-04").
    const auto written = std::to_chars(text, text + sizeof text, value, std::chars_format::general);
    return std::string(text, written.ptr);
}

std::string labels_text(const MetricLabels &labels, std::string_view extra = {}) {
    std::string text = "{listener=\"" + escape_label_value(labels.listener) + "\",plugin=\"" +
                       escape_label_value(labels.plugin) + "\",mode=\"" + escape_label_value(labels.mode) + "\"";
    if (!extra.empty()) text += "," + std::string(extra);
    return text + "}";
}

void family(std::string &out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
    out += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
}

void sample(std::string &out, std::string_view name, std::string_view labels, std::string_view value) {
    out += std::string(name) + std::string(labels) + " " + std::string(value) + "\n";
}

// A family with one sample and no labels.
void lone_sample(std::string &out, std::string_view name, std::string_view type, std::string_view help,
                 std::string_view value) {
    family(out, name, type, help);
    sample(out, name, "", value);
}

// `_bucket` (cumulative, +Inf last), `_sum` and `_count` of one histogram's label set.
// `labels` is the label text without braces ("" for none).
void histogram(std::string &out, std::string_view name, const std::string &labels, std::span<const double> bounds,
               std::span<const std::uint64_t> buckets, double sum) {
    std::uint64_t cumulative = 0;
    const std::string prefix = labels.empty() ? "" : labels + ",";
    for (std::size_t bucket = 0; bucket <= bounds.size(); ++bucket) {
        cumulative += bucket < buckets.size() ? buckets[bucket] : 0;
        const std::string le = bucket < bounds.size() ? number(bounds[bucket]) : "+Inf";
        sample(out, std::string(name) + "_bucket", "{" + prefix + "le=\"" + le + "\"}", std::to_string(cumulative));
    }
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    sample(out, std::string(name) + "_sum", braces, number(sum));
    sample(out, std::string(name) + "_count", braces, std::to_string(cumulative));
}

std::string inner(const MetricLabels &labels) {
    const std::string text = labels_text(labels);
    return text.substr(1, text.size() - 2);
}

void listener_counter(std::string &out, const MetricsSums &sums, std::string_view name, std::string_view help,
                      std::uint64_t ListenerSums::*member) {
    family(out, name, "counter", help);
    for (const auto &[labels, listener] : sums.listeners) sample(out, name, labels_text(labels), std::to_string(listener.*member));
}

void render_listeners(std::string &out, const MetricsSums &sums) {
    family(out, "sockhost_requests_total", "counter", "Requests (connections or datagrams) handled, by outcome.");
    for (const auto &[labels, listener] : sums.listeners)
        for (std::size_t outcome = 0; outcome < kRequestOutcomes; ++outcome)
            sample(out, "sockhost_requests_total",
                   labels_text(labels, "outcome=\"" + std::string(outcome_name(static_cast<RequestOutcome>(outcome))) + "\""),
                   std::to_string(listener.requests[outcome]));
    family(out, "sockhost_request_duration_seconds", "histogram", "How long requests took, from accept to finish.");
    for (const auto &[labels, listener] : sums.listeners)
        histogram(out, "sockhost_request_duration_seconds", inner(labels), kDurationBounds, listener.duration_buckets,
                  static_cast<double>(listener.duration_sum_ns) / 1e9);
    family(out, "sockhost_connections_open", "gauge", "Stream connections open now.");
    for (const auto &[labels, listener] : sums.listeners)
        sample(out, "sockhost_connections_open", labels_text(labels), std::to_string(listener.connections_open));
    listener_counter(out, sums, "sockhost_connections_accepted_total", "Stream connections accepted.", &ListenerSums::connections_accepted);
    listener_counter(out, sums, "sockhost_received_bytes_total", "Bytes received from peers.", &ListenerSums::received_bytes);
    listener_counter(out, sums, "sockhost_sent_bytes_total", "Bytes sent to peers.", &ListenerSums::sent_bytes);
    listener_counter(out, sums, "sockhost_datagrams_truncated_total", "Datagrams longer than max_packet_size, cut.",
                     &ListenerSums::datagrams_truncated);
    listener_counter(out, sums, "sockhost_accept_errors_total", "accept() calls that failed.", &ListenerSums::accept_errors);
}

void render_plugin_metrics(std::string &out, const MetricsSums &sums) {
    for (const auto &[name, metric] : sums.plugin) {
        // A plugin's name that collides with one of the host's is left out (its family is the host's).
        if (name.starts_with("sockhost_") || name.starts_with("process_")) continue;
        const char *type = metric.kind == PluginMetricKind::counter ? "counter"
                           : metric.kind == PluginMetricKind::gauge ? "gauge"
                                                                    : "histogram";
        family(out, name, type, metric.help.empty() ? "A plugin's metric." : metric.help);
        for (const auto &[labels, value] : metric.samples) {
            if (metric.kind == PluginMetricKind::counter) sample(out, name, labels_text(labels), std::to_string(value.counter));
            else if (metric.kind == PluginMetricKind::gauge) sample(out, name, labels_text(labels), number(value.gauge));
            else histogram(out, name, inner(labels), metric.bounds, value.buckets, value.sum);
        }
    }
}

void render_supervisor(std::string &out, const SupervisorMetrics &supervisor) {
    lone_sample(out, "sockhost_generation", "gauge",
                "The serving generation's number (0 before the first is ready).",
                std::to_string(supervisor.generation));
    family(out, "sockhost_reloads_total", "counter", "Reloads, by outcome.");
    sample(out, "sockhost_reloads_total", "{outcome=\"ok\"}", std::to_string(supervisor.reloads_ok));
    sample(out, "sockhost_reloads_total", "{outcome=\"failed\"}", std::to_string(supervisor.reloads_failed));
    family(out, "sockhost_reload_duration_seconds", "histogram", "From a reload's start to its new generation READY, or its failure.");
    histogram(out, "sockhost_reload_duration_seconds", "", kReloadBounds, supervisor.reload_buckets, supervisor.reload_seconds_sum);
    lone_sample(out, "sockhost_worker_restarts_total", "counter",
                "Serving workers that died and were replaced.",
                std::to_string(supervisor.worker_restarts));
    family(out, "sockhost_workers", "gauge", "Live worker processes, by state.");
    for (const auto &[state, count] : supervisor.workers)
        sample(out, "sockhost_workers", "{state=\"" + escape_label_value(state) + "\"}", std::to_string(count));
    // The supervisor's own process, then its live workers' summed.
    const struct {
        const char *name, *type, *help;
        std::string value;
    } process_samples[] = {
        {"process_cpu_seconds_total", "counter", "The supervisor's user and system CPU time in seconds.",
         number(supervisor.supervisor.cpu_seconds)},
        {"process_resident_memory_bytes", "gauge", "The supervisor's resident memory in bytes.",
         std::to_string(supervisor.supervisor.resident_bytes)},
        {"process_open_fds", "gauge", "The supervisor's open file descriptors.",
         std::to_string(supervisor.supervisor.open_fds)},
        {"sockhost_workers_cpu_seconds", "gauge", "CPU time in seconds of the live workers, summed.",
         number(supervisor.workers_process.cpu_seconds)},
        {"sockhost_workers_resident_memory_bytes", "gauge", "Resident memory of the live workers, summed.",
         std::to_string(supervisor.workers_process.resident_bytes)},
        {"sockhost_workers_open_fds", "gauge", "Open file descriptors of the live workers, summed.",
         std::to_string(supervisor.workers_process.open_fds)},
    };
    for (const auto &process : process_samples) lone_sample(out, process.name, process.type, process.help, process.value);
}

}  // namespace

void SupervisorMetrics::record_reload(bool ok, double seconds) {
    ++(ok ? reloads_ok : reloads_failed);
    std::size_t bucket = 0;
    while (bucket < kReloadBounds.size() && seconds > kReloadBounds[bucket]) ++bucket;
    ++reload_buckets[bucket];
    reload_seconds_sum += seconds;
}

std::string escape_label_value(std::string_view value) {
    std::string escaped;
    for (const char c : value) {
        if (c == '\\') escaped += "\\\\";
        else if (c == '"') escaped += "\\\"";
        else if (c == '\n') escaped += "\\n";
        else escaped += c;
    }
    return escaped;
}

std::string render_metrics(const MetricsSums &sums, const SupervisorMetrics &supervisor) {
    std::string out;
    render_listeners(out, sums);
    render_supervisor(out, supervisor);
    render_plugin_metrics(out, sums);
    return out;
}

}  // namespace sockhost
