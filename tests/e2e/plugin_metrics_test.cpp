// Plugin metrics (ABI 1.3) in the real host: a plugin that declares metrics loads and
// serves in every mode, its refused declarations are logged with its name and the reason,
// and its updates (forked request children's too) land in the worker's metrics table.
// Until the supervisor reports them, the table is read from the worker's memory.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sockhost/host/shared/worker_metrics.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>

#include <bit>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace sockhost::test {
namespace {

nlohmann::json metrics_probe_on(const char *mode) {
    return {{"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "metrics_probe"}, {"mode", mode}}}}};
}

std::string ask_probe(const std::string &address, const std::string &line) {
    UniqueFd client = connect_stream(address);
    send_all(client.get(), line + "\n");
    return read_until_eof(client.get());
}

// A copy of the worker's metrics table, read through /proc/PID/mem at the address its
// memfd ("metrics table") is mapped; empty when it is not mapped or cannot be read.
std::unique_ptr<MetricsTable> read_metrics_table(pid_t worker) {
    std::ifstream maps("/proc/" + std::to_string(worker) + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.find("memfd:metrics table") == std::string::npos) continue;
        const unsigned long start = std::stoul(line.substr(0, line.find('-')), nullptr, 16);
        UniqueFd memory(::open(("/proc/" + std::to_string(worker) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
        if (!memory) return nullptr;
        auto table = std::make_unique<MetricsTable>();
        if (::pread(memory.get(), static_cast<void *>(table.get()), sizeof(MetricsTable), static_cast<off_t>(start)) !=
            static_cast<ssize_t>(sizeof(MetricsTable)))
            return nullptr;
        return table;
    }
    return nullptr;
}

const PluginMetric *find_metric(const MetricsTable &table, const char *name) {
    const std::uint32_t used = std::min<std::uint32_t>(table.plugin_metrics_used.load(), MetricsTable::kPluginMetrics);
    for (std::uint32_t index = 0; index < used; ++index) {
        const PluginMetric &slot = table.plugin_metrics[index];
        if (slot.state.load() == PluginMetric::declared && std::strncmp(slot.name, name, sizeof slot.name) == 0)
            return &slot;
    }
    return nullptr;
}

// Polls the worker's table until `done` holds for it; false at the deadline.
template <typename Condition>
bool wait_for_table(pid_t worker, Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto table = read_metrics_table(worker); table && done(*table)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

class PluginMetricsE2e : public ::testing::TestWithParam<const char *> {};

TEST_P(PluginMetricsE2e, ADeclaringPluginServesAndItsUpdatesReachTheWorkersTable) {
    HostUnderTest host(metrics_probe_on(GetParam()), {test_plugin("metrics_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string address = host.listening()[0];
    EXPECT_EQ(ask_probe(address, "COUNT 3"), "ok\n");
    EXPECT_EQ(ask_probe(address, "COUNT 4"), "ok\n");
    EXPECT_EQ(ask_probe(address, "SET 2.5"), "ok\n");
    EXPECT_EQ(ask_probe(address, "OBSERVE 5"), "ok\n");
    const pid_t worker = host.worker_pid();
    if (!read_metrics_table(worker)) GTEST_SKIP() << "cannot read /proc/" << worker << "/mem here";
    const bool counted = wait_for_table(worker, [](const MetricsTable &table) {
        const PluginMetric *requests = find_metric(table, "metrics_probe_requests_total");
        const PluginMetric *level = find_metric(table, "metrics_probe_level");
        const PluginMetric *seconds = find_metric(table, "metrics_probe_seconds");
        return requests && level && seconds && requests->value.load() == 7 &&
               std::bit_cast<double>(level->value.load()) == 2.5 && seconds->buckets[2].load() == 1 &&
               std::bit_cast<double>(seconds->sum_bits.load()) == 5.0;
    });
    EXPECT_TRUE(counted) << "the worker's table never showed the updates (forked children's too)";
    const auto table = read_metrics_table(worker);
    ASSERT_TRUE(table);
    const PluginMetric *seconds = find_metric(*table, "metrics_probe_seconds");
    ASSERT_NE(seconds, nullptr);
    EXPECT_EQ(seconds->listener, 0);
    EXPECT_EQ(seconds->kind, PluginMetricKind::histogram);
    EXPECT_STREQ(seconds->help, "What OBSERVE lines said");
    EXPECT_EQ(table->plugin_metrics_used.load(), 3u) << "refused declarations take no slot";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

INSTANTIATE_TEST_SUITE_P(Modes, PluginMetricsE2e, ::testing::Values("sync", "threading", "forking", "event"));

TEST(PluginMetricsE2e, RefusedDeclarationsAreLoggedWithThePluginAndTheReason) {
    HostUnderTest host(metrics_probe_on("sync"), {test_plugin("metrics_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string log = host.log();
    for (const char *expected :
         {"plugin metrics_probe: declare_metric 'bad name' refused: name is not [a-zA-Z_:][a-zA-Z0-9_:]*",
          "plugin metrics_probe: declare_metric 'sockhost_requests_total' refused: names starting with sockhost_ are "
          "the host's own",
          "plugin metrics_probe: declare_metric 'metrics_probe_requests_total' refused: declared already, by listener "
          "0, as a counter",
          "plugin metrics_probe: declare_metric 'metrics_probe_unordered' refused: bounds are not strictly increasing"})
        EXPECT_NE(log.find(expected), std::string::npos) << expected << "\n" << log;
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// With `metrics: false` there is no table: declarations and updates still work, unseen.
TEST(PluginMetricsE2e, APluginDeclaringMetricsServesWithMetricsOff) {
    auto config = metrics_probe_on("threading");
    config["metrics"] = false;
    HostUnderTest host(config, {test_plugin("metrics_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(ask_probe(host.listening()[0], "COUNT 1"), "ok\n");
    EXPECT_EQ(read_metrics_table(host.worker_pid()), nullptr);
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// Plugins of every older ABI load and serve beside the new members (the frozen ones hold
// bait past their descriptors, which would fail their create).
TEST(PluginMetricsE2e, PluginsOfOlderAbisStillLoadAndServe) {
    for (const char *plugin : {"frozen_abi_1_0", "frozen_abi_1_1", "frozen_abi_1_2"}) {
        SCOPED_TRACE(plugin);
        HostUnderTest host({{"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", plugin}, {"mode", "threading"}}}}},
                           {test_plugin(plugin)});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "ping");
        EXPECT_EQ(read_exactly(client.get(), 4), "ping");
        EXPECT_EQ(host.log().find("past the descriptor"), std::string::npos) << host.log();
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

}  // namespace
}  // namespace sockhost::test
