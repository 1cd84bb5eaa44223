// /metrics: the sums of the workers' tables (metrics_totals.hpp) and the supervisor's own
// numbers, in the Prometheus text exposition format 0.0.4.
#pragma once

#include <sockhost/host/supervisor/metrics_totals.hpp>

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace sockhost {

// A reload's duration histogram bounds in seconds, +Inf after them.
inline constexpr std::array<double, 8> kReloadBounds{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// A process's CPU time, resident memory and open descriptors, from /proc/PID (0 when unreadable).
struct ProcessStats {
    double cpu_seconds = 0;
    std::uint64_t resident_bytes = 0;
    std::uint64_t open_fds = 0;
};
ProcessStats read_process_stats(pid_t pid);  // 0: the calling process

struct SupervisorMetrics {
    int generation = 0;  // the serving one's number; 0 before the first is READY
    std::uint64_t reloads_ok = 0;
    std::uint64_t reloads_failed = 0;
    std::array<std::uint64_t, kReloadBounds.size() + 1> reload_buckets{};  // per bucket
    double reload_seconds_sum = 0;
    std::uint64_t worker_restarts = 0;
    std::map<std::string, std::uint64_t> workers;  // live workers by state
    ProcessStats supervisor;
    ProcessStats workers_process;  // summed over live workers

    void record_reload(bool ok, double seconds);
};

std::string render_metrics(const MetricsSums &sums, const SupervisorMetrics &supervisor);

// A label value escaped as the format wants it: \\, \" and \n.
std::string escape_label_value(std::string_view value);

}  // namespace sockhost
