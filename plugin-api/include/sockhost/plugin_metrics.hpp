// C++ sugar over the plugin metrics of ABI 1.3 (plugin.h): handles, and the context a
// plugin's constructor declares them with. Part of plugin.hpp, which includes it.
#ifndef SOCKHOST_PLUGIN_METRICS_HPP
#define SOCKHOST_PLUGIN_METRICS_HPP

#include <sockhost/plugin.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace sockhost::sdk {

// Metric handles (ABI 1.3), from InstanceContext at construction. Cheap to copy; every
// update may be called from any hook, thread or forked child. A handle whose declaration
// failed (the host logged why), or one from a host older than ABI 1.3, does nothing.
class Metric {
public:
    Metric() noexcept = default;
    Metric(const sockhost_host_api *host, sockhost_metric *metric) noexcept : host_(host), metric_(metric) {}
    // False when the declaration was refused or the host has no metrics.
    explicit operator bool() const noexcept { return metric_ != nullptr; }

protected:
    const sockhost_host_api *host_ = nullptr;
    sockhost_metric *metric_ = nullptr;
};

class Counter : public Metric {
public:
    using Metric::Metric;
    void add(std::uint64_t amount) const noexcept {
        if (metric_ != nullptr) host_->counter_add(metric_, amount);
    }
    void inc() const noexcept { add(1); }
};

class Gauge : public Metric {
public:
    using Metric::Metric;
    void set(double value) const noexcept {
        if (metric_ != nullptr) host_->gauge_set(metric_, value);
    }
    void add(double amount) const noexcept {
        if (metric_ != nullptr) host_->gauge_add(metric_, amount);
    }
};

class Histogram : public Metric {
public:
    using Metric::Metric;
    void observe(double value) const noexcept {
        if (metric_ != nullptr) host_->histogram_observe(metric_, value);
    }
};

// The listener's concurrency mode (InstanceInfo::mode).
enum class Mode { sync, threading, forking, event, unknown };

constexpr std::string_view mode_name(Mode mode) noexcept {
    switch (mode) {
        case Mode::sync: return "sync";
        case Mode::threading: return "threading";
        case Mode::forking: return "forking";
        case Mode::event: return "event";
        case Mode::unknown: break;
    }
    return "unknown";
}

// Where an instance runs (ABI 1.4's sockhost_instance_info), copied: a plugin may keep it.
struct InstanceInfo {
    sockhost_transport transport{};
    Mode mode = Mode::unknown;
    std::uint32_t worker_index = 0;  // 1-based within its generation; 0 outside a worker
    std::uint64_t generation = 0;    // from 1; 0 outside a worker (sockhost --check)
    std::string listener_name;       // empty when the listener has no `name`
    std::string address;             // the listener's address as bound (port 0 resolved)
};

// What the host gives a plugin's constructor besides its config: where the instance runs,
// and metric declarations for it (reported with the labels listener, plugin and mode).
// Valid during the constructor only; the handles stay valid until the instance is destroyed.
class InstanceContext {
public:
    InstanceContext(const sockhost_host_api *host, sockhost_instance_context *context) noexcept
        : host_(host), context_(context) {}

    // Empty optional on a host older than ABI 1.4, or without a context (a plain create).
    std::optional<InstanceInfo> info() const {
        if (host_ == nullptr || context_ == nullptr || !SOCKHOST_HOST_API_HAS(host_, instance_info) ||
            host_->instance_info == nullptr)
            return std::nullopt;
        const sockhost_instance_info *raw = host_->instance_info(context_);
        if (raw == nullptr || raw->struct_size < sizeof(sockhost_instance_info)) return std::nullopt;
        InstanceInfo info;
        info.transport = static_cast<sockhost_transport>(raw->transport);
        switch (raw->mode) {
            case SOCKHOST_MODE_SYNC: info.mode = Mode::sync; break;
            case SOCKHOST_MODE_THREADING: info.mode = Mode::threading; break;
            case SOCKHOST_MODE_FORKING: info.mode = Mode::forking; break;
            case SOCKHOST_MODE_EVENT: info.mode = Mode::event; break;
            default: info.mode = Mode::unknown; break;
        }
        info.worker_index = raw->worker_index;
        info.generation = raw->generation;
        info.listener_name = raw->listener_name != nullptr ? raw->listener_name : "";
        info.address = raw->address != nullptr ? raw->address : "";
        return info;
    }

    Counter counter(const char *name, const char *help) const noexcept {
        return Counter(host_, declare(SOCKHOST_METRIC_COUNTER, name, help, nullptr, 0));
    }
    Gauge gauge(const char *name, const char *help) const noexcept {
        return Gauge(host_, declare(SOCKHOST_METRIC_GAUGE, name, help, nullptr, 0));
    }
    // `bounds`: upper bounds, strictly increasing, at most SOCKHOST_METRIC_BOUNDS_MAX.
    Histogram histogram(const char *name, const char *help, std::initializer_list<double> bounds) const noexcept {
        return Histogram(host_, declare(SOCKHOST_METRIC_HISTOGRAM, name, help, bounds.begin(), bounds.size()));
    }

private:
    // NULL on a host without metrics (older than ABI 1.3, or a create without context).
    sockhost_metric *declare(sockhost_metric_kind kind, const char *name, const char *help, const double *bounds,
                             std::size_t count) const noexcept {
        if (host_ == nullptr || context_ == nullptr || !SOCKHOST_HOST_API_HAS(host_, histogram_observe) ||
            host_->declare_metric == nullptr || host_->counter_add == nullptr || host_->gauge_set == nullptr ||
            host_->gauge_add == nullptr || host_->histogram_observe == nullptr)
            return nullptr;
        return host_->declare_metric(context_, kind, name, help, bounds, count);
    }

    const sockhost_host_api *host_;
    sockhost_instance_context *context_;
};

}  // namespace sockhost::sdk

#endif  // SOCKHOST_PLUGIN_METRICS_HPP
