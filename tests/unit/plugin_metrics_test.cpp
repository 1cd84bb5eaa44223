// Plugin metrics (ABI 1.3) into a worker's metrics table made by hand, as the supervisor
// makes it: declarations checked, published and found again; updates that sum exactly
// from several threads.
#include <sockhost/host/worker/plugin/host_api.hpp>
#include <sockhost/host/worker/plugin/plugin_metrics.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sockhost {
namespace {

class PluginMetrics : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = MetricsMapping::create();
        ASSERT_TRUE(created) << created.error().message;
        mapping.emplace(std::move(*created));
    }
    MetricsTable &table() { return mapping->table(); }
    Result<PluginMetric *> declare(sockhost_metric_kind kind, const char *name, const char *help = "help",
                                   std::vector<double> bounds = {}, int listener = 0) {
        return declare_plugin_metric(table(), listener, kind, name, help, bounds.data(), bounds.size());
    }
    std::optional<MetricsMapping> mapping;
};

TEST_F(PluginMetrics, ADeclarationIsPublishedWithItsListenerNameHelpAndBounds) {
    const auto metric = declare(SOCKHOST_METRIC_HISTOGRAM, "probe_seconds", "How long", {0.5, 2}, 3);
    ASSERT_TRUE(metric) << metric.error().message;
    EXPECT_EQ(table().plugin_metrics_used.load(), 1u);
    const PluginMetric &slot = table().plugin_metrics[0];
    EXPECT_EQ(*metric, &slot);
    EXPECT_EQ(slot.state.load(), PluginMetric::declared);
    EXPECT_EQ(slot.listener, 3);
    EXPECT_EQ(slot.kind, PluginMetricKind::histogram);
    EXPECT_STREQ(slot.name, "probe_seconds");
    EXPECT_STREQ(slot.help, "How long");
    ASSERT_EQ(slot.bound_count, 2u);
    EXPECT_EQ(slot.bounds[0], 0.5);
    EXPECT_EQ(slot.bounds[1], 2);
}

TEST_F(PluginMetrics, BadDeclarationsAreRefusedWithTheReason) {
    const std::string long_name(64, 'a');
    const std::string long_help(256, 'h');
    const struct {
        sockhost_metric_kind kind;
        const char *name;
        const char *help;
        std::vector<double> bounds;
        const char *reason;
    } cases[] = {
        {SOCKHOST_METRIC_COUNTER, "", "h", {}, "no name"},
        {SOCKHOST_METRIC_COUNTER, "9lives", "h", {}, "character 1"},
        {SOCKHOST_METRIC_COUNTER, "a b", "h", {}, "character 2"},
        {SOCKHOST_METRIC_COUNTER, long_name.c_str(), "h", {}, "longer than 63 bytes"},
        {SOCKHOST_METRIC_COUNTER, "sockhost_requests_total", "h", {}, "the host's own"},
        {SOCKHOST_METRIC_COUNTER, "fine", long_help.c_str(), {}, "help text longer than 255"},
        {SOCKHOST_METRIC_COUNTER, "fine", "two\nlines", {}, "control character"},
        {SOCKHOST_METRIC_GAUGE, "fine", "h", {1}, "not a histogram"},
        {SOCKHOST_METRIC_HISTOGRAM, "fine", "h", std::vector<double>(17, 1), "17 bounds, more than 16"},
        {SOCKHOST_METRIC_HISTOGRAM, "fine", "h", {1, 1}, "not strictly increasing"},
        {SOCKHOST_METRIC_HISTOGRAM, "fine", "h", {1, std::numeric_limits<double>::infinity()}, "not finite"},
        {static_cast<sockhost_metric_kind>(0), "fine", "h", {}, "unknown kind 0"},
    };
    for (const auto &bad : cases) {
        const auto refused = declare(bad.kind, bad.name, bad.help, bad.bounds);
        ASSERT_FALSE(refused) << bad.name;
        EXPECT_NE(refused.error().message.find(bad.reason), std::string::npos) << refused.error().message;
    }
    EXPECT_EQ(table().plugin_metrics_used.load(), 0u) << "no slot taken by a refusal";
    EXPECT_TRUE(declare(SOCKHOST_METRIC_COUNTER, "ok:name_2", std::string(255, 'h').c_str()));
}

TEST_F(PluginMetrics, TheSameDeclarationAgainIsTheSameMetric) {
    const auto first = declare(SOCKHOST_METRIC_COUNTER, "probe_total");
    const auto again = declare(SOCKHOST_METRIC_COUNTER, "probe_total");
    ASSERT_TRUE(first && again);
    EXPECT_EQ(*first, *again);
    EXPECT_EQ(table().plugin_metrics_used.load(), 1u);
    // Another listener's instance has its own, with the same declaration.
    const auto other_listener = declare(SOCKHOST_METRIC_COUNTER, "probe_total", "help", {}, 1);
    ASSERT_TRUE(other_listener);
    EXPECT_NE(*other_listener, *first);
}

TEST_F(PluginMetrics, ANameDeclaredOtherwiseIsRefused) {
    ASSERT_TRUE(declare(SOCKHOST_METRIC_COUNTER, "probe_total"));
    for (const int listener : {0, 1}) {
        EXPECT_FALSE(declare(SOCKHOST_METRIC_GAUGE, "probe_total", "help", {}, listener));
        const auto other_help = declare(SOCKHOST_METRIC_COUNTER, "probe_total", "other", {}, listener);
        ASSERT_FALSE(other_help);
        EXPECT_NE(other_help.error().message.find("declared already, by listener 0, as a counter"), std::string::npos)
            << other_help.error().message;
    }
}

TEST_F(PluginMetrics, AFullTableRefusesTheNextDeclaration) {
    for (std::size_t index = 0; index < MetricsTable::kPluginMetrics; ++index)
        ASSERT_TRUE(declare(SOCKHOST_METRIC_COUNTER, ("probe_" + std::to_string(index)).c_str()));
    const auto refused = declare(SOCKHOST_METRIC_COUNTER, "one_more");
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("table of 256 plugin metrics is full"), std::string::npos);
    EXPECT_EQ(table().plugin_metrics_used.load(), MetricsTable::kPluginMetrics);
    EXPECT_TRUE(declare(SOCKHOST_METRIC_COUNTER, "probe_7")) << "an existing one is still found";
}

TEST_F(PluginMetrics, UpdatesFromSeveralThreadsSumExactly) {
    PluginMetric *counter = *declare(SOCKHOST_METRIC_COUNTER, "probe_total");
    PluginMetric *gauge = *declare(SOCKHOST_METRIC_GAUGE, "probe_level");
    PluginMetric *histogram = *declare(SOCKHOST_METRIC_HISTOGRAM, "probe_seconds", "h", {1, 2});
    constexpr int kThreads = 4, kEach = 20000;
    std::vector<std::thread> threads;
    for (int thread = 0; thread < kThreads; ++thread)
        threads.emplace_back([&] {
            for (int step = 0; step < kEach; ++step) {
                add_to_counter(counter, 2);
                add_to_gauge(gauge, 1);
                observe_histogram(histogram, step % 3);  // 0 and 1 in le=1, 2 in le=2
            }
        });
    for (auto &thread : threads) thread.join();
    EXPECT_EQ(counter->value.load(), 2u * kThreads * kEach);
    EXPECT_EQ(std::bit_cast<double>(gauge->value.load()), double(kThreads) * kEach);
    std::uint64_t low = 0, high = 0;  // per thread: values 0 and 1 (le=1), 2 (le=2)
    for (int step = 0; step < kEach; ++step) (step % 3 == 2 ? high : low) += 1;
    EXPECT_EQ(histogram->buckets[0].load(), kThreads * low);
    EXPECT_EQ(histogram->buckets[1].load(), kThreads * high);
    EXPECT_EQ(histogram->buckets[2].load(), 0u);
    // Sums of small integers are exact in a double, in any order.
    std::uint64_t sum = 0;
    for (int step = 0; step < kEach; ++step) sum += static_cast<std::uint64_t>(step % 3);
    EXPECT_EQ(std::bit_cast<double>(histogram->sum_bits.load()), double(kThreads * sum));
}

TEST_F(PluginMetrics, UpdatesOfNullOrOfAnotherKindDoNothing) {
    PluginMetric *counter = *declare(SOCKHOST_METRIC_COUNTER, "probe_total");
    PluginMetric *gauge = *declare(SOCKHOST_METRIC_GAUGE, "probe_level");
    add_to_counter(nullptr, 1);
    set_gauge(nullptr, 1);
    add_to_gauge(nullptr, 1);
    observe_histogram(nullptr, 1);
    set_gauge(counter, 5);
    add_to_counter(gauge, 5);
    observe_histogram(gauge, 5);
    EXPECT_EQ(counter->value.load(), 0u);
    EXPECT_EQ(gauge->value.load(), 0u);
    set_gauge(gauge, -2.5);
    EXPECT_EQ(std::bit_cast<double>(gauge->value.load()), -2.5);
}

// Through the host table: a refusal outside create_with_context, and NULL handles.
TEST_F(PluginMetrics, TheHostTableRefusesADeclarationOutsideCreate) {
    const sockhost_host_api *host = host_api_table();
    sockhost_instance_context context;
    context.table = &table();
    context.listener = 0;
    context.plugin = "probe";
    sockhost_metric *metric = host->declare_metric(&context, SOCKHOST_METRIC_COUNTER, "probe_total", "h", nullptr, 0);
    ASSERT_NE(metric, nullptr);
    host->counter_add(metric, 3);
    EXPECT_EQ(table().plugin_metrics[0].value.load(), 3u);
    context.open = false;
    EXPECT_EQ(host->declare_metric(&context, SOCKHOST_METRIC_COUNTER, "later_total", "h", nullptr, 0), nullptr);
    EXPECT_EQ(host->declare_metric(nullptr, SOCKHOST_METRIC_COUNTER, "later_total", "h", nullptr, 0), nullptr);
    host->counter_add(nullptr, 1);
    host->histogram_observe(nullptr, 1);
}

}  // namespace
}  // namespace sockhost
