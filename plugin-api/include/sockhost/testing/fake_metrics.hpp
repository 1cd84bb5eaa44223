// The harness's plugin metrics (ABI 1.3): what an Instance's create_with_context
// declared, updated as the host updates its table, read back by name.
#ifndef SOCKHOST_TESTING_FAKE_METRICS_HPP
#define SOCKHOST_TESTING_FAKE_METRICS_HPP

#include <sockhost/plugin.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost::sdk::testing::detail {

// One metric an instance declared (ABI 1.3), updated as the host updates its table.
struct FakeMetric {
    sockhost_metric_kind kind = SOCKHOST_METRIC_COUNTER;
    std::string name;
    std::string help;
    std::vector<double> bounds;
    std::atomic<std::uint64_t> value{0};  // counter: the count; gauge: the double's bits
    std::atomic<std::uint64_t> buckets[SOCKHOST_METRIC_BOUNDS_MAX + 1] = {};
    std::atomic<std::uint64_t> sum_bits{0};
};

// The harness's sockhost_instance_context: the metrics of one Instance, and where it
// says the instance runs (instance_info, ABI 1.4; `info` points into the strings).
struct FakeInstanceContext {
    std::vector<std::unique_ptr<FakeMetric>> metrics;
    bool open = true;  // during create_with_context only
    std::string listener_name;
    std::string address;
    sockhost_instance_info info{};

    const FakeMetric *find(std::string_view name) const {
        for (const auto &metric : metrics)
            if (metric->name == name) return metric.get();
        return nullptr;
    }
};

inline void add_double(std::atomic<std::uint64_t> &cell, double amount) {
    std::uint64_t old_bits = cell.load(std::memory_order_relaxed);
    while (!cell.compare_exchange_weak(old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + amount),
                                       std::memory_order_relaxed)) {
    }
}

}  // namespace sockhost::sdk::testing::detail

#endif  // SOCKHOST_TESTING_FAKE_METRICS_HPP
