// plugin.hpp's metrics (ABI 1.3) through the harness: declared by the constructor, updated
// by hooks, read by name; refusals logged; no-ops on a host without metrics.
#include "plugin_paths.hpp"

#include <sockhost/plugin.hpp>
#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::LogLine;
using sockhost::sdk::testing::Plugin;

const Plugin &metrics_probe() {
    static const Plugin plugin(sdk_test_plugin("sdk_metrics"));
    return plugin;
}

Input line(std::string text) {
    Input input;
    input.bytes = std::move(text) + "\n";
    return input;
}

bool logged(const std::vector<LogLine> &log, std::string_view text) {
    return std::any_of(log.begin(), log.end(),
                       [&](const LogLine &entry) { return entry.message.find(text) != std::string::npos; });
}

TEST(SdkMetrics, TheConstructorDeclaresAndHooksUpdate) {
    Instance instance(metrics_probe());
    ASSERT_TRUE(instance.ready()) << instance.create_error();
    EXPECT_EQ(instance.metric_names(), (std::vector<std::string>{"metrics_probe_requests_total", "metrics_probe_level",
                                                                 "metrics_probe_seconds"}));
    EXPECT_EQ(instance.metric("metrics_probe_requests_total"), 0.0);
    EXPECT_TRUE(instance.serve(line("COUNT 3")).ok());
    EXPECT_TRUE(instance.serve(line("COUNT 4")).ok());
    EXPECT_TRUE(instance.serve(line("SET -1.5")).ok());
    for (const char *value : {"0.05", "0.1", "5", "50"}) EXPECT_TRUE(instance.serve(line(std::string("OBSERVE ") + value)).ok());
    EXPECT_EQ(instance.metric("metrics_probe_requests_total"), 7.0);
    EXPECT_EQ(instance.metric("metrics_probe_level"), -1.5);
    const auto seconds = instance.histogram("metrics_probe_seconds");
    ASSERT_TRUE(seconds);
    EXPECT_EQ(seconds->bounds, (std::vector<double>{0.1, 1, 10}));
    EXPECT_EQ(seconds->buckets, (std::vector<std::uint64_t>{2, 0, 1, 1}));  // 0.1 is in le=0.1
    EXPECT_EQ(seconds->count, 4u);
    EXPECT_DOUBLE_EQ(seconds->sum, 55.15);
    EXPECT_EQ(instance.metric("metrics_probe_seconds"), std::nullopt) << "a histogram is read with histogram()";
}

TEST(SdkMetrics, RefusedDeclarationsAreLoggedWithTheReason) {
    Instance instance(metrics_probe());
    ASSERT_TRUE(instance.ready());
    EXPECT_TRUE(logged(instance.log(), "declare_metric 'bad name' refused: name is not [a-zA-Z_:][a-zA-Z0-9_:]*"));
    EXPECT_TRUE(logged(instance.log(), "declare_metric 'sockhost_requests_total' refused: names starting with sockhost_"));
    EXPECT_TRUE(logged(instance.log(), "declare_metric 'metrics_probe_requests_total' refused: declared already"));
    EXPECT_TRUE(logged(instance.log(), "declare_metric 'metrics_probe_unordered' refused: bounds are not strictly"));
}

TEST(SdkMetrics, UpdatesFromSeveralThreadsSum) {
    Instance instance(metrics_probe());
    std::vector<std::thread> threads;
    for (int thread = 0; thread < 4; ++thread)
        threads.emplace_back([&] {
            for (int request = 0; request < 200; ++request) instance.serve(line("COUNT 1"));
        });
    for (auto &thread : threads) thread.join();
    EXPECT_EQ(instance.metric("metrics_probe_requests_total"), 800.0);
}

// A plugin given a plain create (a host or harness that does not know create_with_context)
// still serves; its metrics do nothing.
TEST(SdkMetrics, WithoutAContextMetricsDoNothing) {
    const sockhost_plugin_descriptor &descriptor = metrics_probe().descriptor();
    ASSERT_NE(descriptor.create_with_context, nullptr);
    void *instance = nullptr;
    char error[256] = "";
    ASSERT_EQ(descriptor.create("{}", &instance, error, sizeof error), SOCKHOST_OK) << error;
    descriptor.destroy(instance);
}

int declarations = 0;
sockhost_metric *count_declaration(sockhost_instance_context *, sockhost_metric_kind, const char *, const char *,
                                   const double *, std::size_t) {
    ++declarations;
    return nullptr;
}

// On a host table that ends before ABI 1.3's members, nothing is declared and every
// update is a no-op.
TEST(SdkMetrics, AnOlderHostTableIsNotAskedToDeclare) {
    sockhost_host_api table = sockhost::sdk::testing::host_api();
    table.declare_metric = &count_declaration;
    int opaque = 0;
    auto *context = reinterpret_cast<sockhost_instance_context *>(&opaque);  // never dereferenced here
    declarations = 0;
    EXPECT_FALSE(sockhost::sdk::InstanceContext(&table, context).counter("a_total", "h"));
    EXPECT_EQ(declarations, 1);

    table.struct_size = offsetof(sockhost_host_api, declare_metric);  // as a 1.2 host builds it
    table.abi_minor = 2;
    const sockhost::sdk::InstanceContext older(&table, context);
    const auto counter = older.counter("a_total", "h");
    const auto gauge = older.gauge("a", "h");
    const auto histogram = older.histogram("a_seconds", "h", {1});
    EXPECT_EQ(declarations, 1);
    EXPECT_FALSE(counter || gauge || histogram);
    counter.inc();
    gauge.set(1);
    gauge.add(1);
    histogram.observe(1);
    sockhost::sdk::Counter().inc();
}

}  // namespace
