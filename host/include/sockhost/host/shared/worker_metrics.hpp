// What each worker counts, on memory the supervisor shares with it (shared_table.hpp):
// per listener, the host's request, connection and byte counters; and the metrics its
// plugins declared (plugin.h, ABI 1.3). The worker and its request children add with
// relaxed atomic operations (no lock, no system call); the supervisor sums every worker's
// table into what the admin endpoint and `sockhost status` report, and keeps a dead
// worker's counters (never its gauges), so no counter goes backwards.
//
// The supervisor treats what it reads as untrusted bytes, as it does the activity table:
// names are bounded and checked, kinds and counts range-checked, before anything is used.
#pragma once

#include <sockhost/host/shared/shared_table.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sockhost {

// How a request ended, as sockhost_requests_total{outcome} counts it. A request is what
// the plugin's hooks run once for: a stream connection, or one datagram.
enum class RequestOutcome : std::uint32_t {
    ok,         // every hook succeeded and the answer was sent
    error,      // a hook failed, or the answer could not be sent
    timeout,    // the listener's `timeout` passed while it waited for the peer
    refused,    // the plugin's verify said no
    denied,     // the listener's allow/deny lists said no
    cancelled,  // cut off by a stop or a drain deadline
    handshake_failed,  // a TLS listener's handshake failed, or did not end within handshake_timeout
};
inline constexpr std::size_t kRequestOutcomes = 7;
std::string_view outcome_name(RequestOutcome outcome);

// The request duration histogram's upper bounds in seconds (`le`); a last bucket, +Inf,
// follows. From 100 µs (an event-mode echo) to 10 s (a slow client near its timeout).
inline constexpr std::array<double, 14> kDurationBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                        0.025,  0.05,    0.1,    0.25,  1,      2.5,   10};

// One listener's counters in one worker (and its request children).
struct ListenerCounters {
    std::atomic<std::uint64_t> requests[kRequestOutcomes];
    // Per bucket, not cumulative (the reader sums): kDurationBounds, then +Inf.
    std::atomic<std::uint64_t> duration_buckets[kDurationBounds.size() + 1];
    std::atomic<std::uint64_t> duration_sum_ns;
    std::atomic<std::int64_t> connections_open;  // a gauge: not kept once the worker died
    std::atomic<std::uint64_t> connections_accepted;
    std::atomic<std::uint64_t> received_bytes;
    std::atomic<std::uint64_t> sent_bytes;
    std::atomic<std::uint64_t> datagrams_truncated;
    std::atomic<std::uint64_t> accept_errors;
};

enum class PluginMetricKind : std::uint32_t { none, counter, gauge, histogram };

// One metric a plugin instance declared. The worker writes name, help, kind and bounds
// once, then publishes the entry (state: declared, with release); only values change after.
struct PluginMetric {
    static constexpr std::size_t kNameCapacity = 64;    // with the terminating NUL
    static constexpr std::size_t kHelpCapacity = 256;   // with the terminating NUL
    static constexpr std::size_t kMaxBounds = 16;
    enum State : std::uint32_t { free = 0, declaring = 1, declared = 2 };

    std::atomic<std::uint32_t> state;
    std::int32_t listener;  // its instance's index in the configuration's listeners
    PluginMetricKind kind;
    std::uint32_t bound_count;  // histogram only
    char name[kNameCapacity];
    char help[kHelpCapacity];
    double bounds[kMaxBounds];
    // counter: the count (an integer); gauge: the value's bits (a double).
    std::atomic<std::uint64_t> value;
    // histogram: per bucket, not cumulative (bounds, then +Inf), and the sum's bits (a double).
    std::atomic<std::uint64_t> buckets[kMaxBounds + 1];
    std::atomic<std::uint64_t> sum_bits;
};

struct MetricsTable {
    static constexpr const char *kWhat = "metrics table";
    // Listeners past this many in one configuration are served but not counted (the
    // supervisor says so when it starts such a generation).
    static constexpr std::size_t kListeners = 256;
    static constexpr std::size_t kPluginMetrics = 256;  // per worker, over all its instances

    ListenerCounters listeners[kListeners];  // by index in the configuration's listeners
    std::atomic<std::uint32_t> plugin_metrics_used;  // a high-water mark: readers scan below it
    PluginMetric plugin_metrics[kPluginMetrics];
};

// The mapping of one worker's table; unmapped when this goes.
using MetricsMapping = SharedTable<MetricsTable>;

}  // namespace sockhost
