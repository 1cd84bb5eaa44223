// The supervisor's sums of hand-filled metrics tables, their folding at a reap, the text
// exposition, and the admin endpoint's HTTP answers on bytes alone.
#include <sockhost/host/supervisor/admin_http.hpp>
#include <sockhost/host/supervisor/metrics_exposition.hpp>
#include <sockhost/host/supervisor/metrics_totals.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <memory>

namespace sockhost {
namespace {

// A zeroed table on the heap (it is large), as a worker's memfd starts.
std::unique_ptr<MetricsTable> empty_table() {
    auto *memory = ::operator new(sizeof(MetricsTable));
    std::memset(memory, 0, sizeof(MetricsTable));
    return std::unique_ptr<MetricsTable>(static_cast<MetricsTable *>(memory));
}

const std::vector<MetricLabels> kLabels{{"tcp://127.0.0.1:7000", "echo", "event"}, {"unix:/run/x \"q\"\n", "kv", "sync"}};

void count_requests(MetricsTable &table, std::size_t listener, RequestOutcome outcome, std::uint64_t count) {
    table.listeners[listener].requests[static_cast<std::size_t>(outcome)].fetch_add(count);
}

std::string line_of(const std::string &text, const std::string &series) {
    const auto start = text.find("\n" + series + " ");
    if (start == std::string::npos) return {};
    return text.substr(start + 1, text.find('\n', start + 1) - start - 1);
}

TEST(MetricsSums, AddsWorkersByLabelsAndFoldsCountersOnly) {
    auto first = empty_table(), second = empty_table();
    count_requests(*first, 0, RequestOutcome::ok, 3);
    count_requests(*second, 0, RequestOutcome::ok, 4);
    first->listeners[0].connections_open = 2;
    second->listeners[0].connections_open = 5;
    MetricsTotals totals;
    totals.fold(*first, kLabels);  // the first worker died
    MetricsSums sums;
    sums.add(*second, kLabels, false);
    sums.add(totals.retired());
    const auto &sum = sums.listeners.at(kLabels[0]);
    EXPECT_EQ(sum.requests[0], 7u);
    EXPECT_EQ(sum.connections_open, 5);  // the dead worker's gauge is not kept
}

TEST(MetricsSums, UntrustedTablesAreBounded) {
    auto table = empty_table();
    table->plugin_metrics_used = 0xffffffffu;  // past the slots
    auto &bad_listener = table->plugin_metrics[0];
    bad_listener.listener = 99;
    bad_listener.kind = PluginMetricKind::counter;
    std::memcpy(bad_listener.name, "ok_name", 8);
    bad_listener.state = PluginMetric::declared;
    auto &bad_name = table->plugin_metrics[1];
    std::memset(bad_name.name, 'x', sizeof bad_name.name);  // no NUL
    bad_name.name[0] = '9';
    bad_name.kind = PluginMetricKind::counter;
    bad_name.state = PluginMetric::declared;
    auto &bad_kind = table->plugin_metrics[2];
    std::memcpy(bad_kind.name, "kind", 5);
    bad_kind.kind = static_cast<PluginMetricKind>(77);
    bad_kind.state = PluginMetric::declared;
    auto &bad_bounds = table->plugin_metrics[3];
    std::memcpy(bad_bounds.name, "bounds", 7);
    bad_bounds.kind = PluginMetricKind::histogram;
    bad_bounds.bound_count = 1000;
    bad_bounds.state = PluginMetric::declared;
    MetricsSums sums;
    sums.add(*table, kLabels, false);
    EXPECT_TRUE(sums.plugin.empty());
}

TEST(MetricsSums, PluginMetricsMergeByName) {
    auto first = empty_table(), second = empty_table();
    for (auto *table : {first.get(), second.get()}) {
        auto &counter = table->plugin_metrics[0];
        std::memcpy(counter.name, "kv_hits_total", 14);
        std::memcpy(counter.help, "Hits.\x01", 7);
        counter.kind = PluginMetricKind::counter;
        counter.listener = 1;
        counter.value = 10;
        counter.state = PluginMetric::declared;
        auto &gauge = table->plugin_metrics[1];
        std::memcpy(gauge.name, "kv_keys", 8);
        gauge.kind = PluginMetricKind::gauge;
        gauge.listener = 1;
        gauge.value = std::bit_cast<std::uint64_t>(1.5);
        gauge.state = PluginMetric::declared;
        auto &histogram = table->plugin_metrics[2];
        std::memcpy(histogram.name, "kv_size", 8);
        histogram.kind = PluginMetricKind::histogram;
        histogram.listener = 1;
        histogram.bound_count = 2;
        histogram.bounds[0] = 1;
        histogram.bounds[1] = 10;
        histogram.buckets[0] = 1;
        histogram.buckets[2] = 2;
        histogram.sum_bits = std::bit_cast<std::uint64_t>(40.0);
        histogram.state = PluginMetric::declared;
        table->plugin_metrics_used = 3;
    }
    MetricsTotals totals;
    totals.fold(*first, kLabels);
    MetricsSums sums;
    sums.add(*second, kLabels, false);
    sums.add(totals.retired());
    EXPECT_EQ(sums.plugin.at("kv_hits_total").samples.at(kLabels[1]).counter, 20u);
    EXPECT_EQ(sums.plugin.at("kv_hits_total").help, "Hits.?");
    EXPECT_EQ(sums.plugin.at("kv_keys").samples.at(kLabels[1]).gauge, 1.5);  // the dead worker's gauge went
    const std::string text = render_metrics(sums, {});
    const std::string labels = "listener=\"unix:/run/x \\\"q\\\"\\n\",plugin=\"kv\",mode=\"sync\"";
    EXPECT_EQ(line_of(text, "kv_hits_total{" + labels + "}"), "kv_hits_total{" + labels + "} 20");
    EXPECT_EQ(line_of(text, "kv_size_bucket{" + labels + ",le=\"10\"}"), "kv_size_bucket{" + labels + ",le=\"10\"} 2");
    EXPECT_EQ(line_of(text, "kv_size_bucket{" + labels + ",le=\"+Inf\"}"), "kv_size_bucket{" + labels + ",le=\"+Inf\"} 6");
    EXPECT_EQ(line_of(text, "kv_size_sum{" + labels + "}"), "kv_size_sum{" + labels + "} 80");
    EXPECT_NE(text.find("# TYPE kv_size histogram\n"), std::string::npos);
}

TEST(MetricsExposition, HostFamiliesAndCumulativeBuckets) {
    auto table = empty_table();
    count_requests(*table, 0, RequestOutcome::timeout, 2);
    table->listeners[0].duration_buckets[0] = 1;
    table->listeners[0].duration_buckets[kDurationBounds.size()] = 1;
    table->listeners[0].duration_sum_ns = 1'500'000'000;
    MetricsSums sums;
    sums.add(*table, {kLabels[0]}, false);
    SupervisorMetrics supervisor;
    supervisor.generation = 3;
    supervisor.record_reload(true, 0.3);
    supervisor.record_reload(false, 100);
    const std::string text = render_metrics(sums, supervisor);
    const std::string labels = "listener=\"tcp://127.0.0.1:7000\",plugin=\"echo\",mode=\"event\"";
    EXPECT_NE(text.find("\nsockhost_requests_total{" + labels + ",outcome=\"timeout\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_request_duration_seconds_bucket{" + labels + ",le=\"0.0001\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_request_duration_seconds_bucket{" + labels + ",le=\"10\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_request_duration_seconds_sum{" + labels + "} 1.5\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_generation 3\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_reloads_total{outcome=\"failed\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_reload_duration_seconds_bucket{le=\"0.5\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("\nsockhost_reload_duration_seconds_count 2\n"), std::string::npos);
}

TEST(MetricsExposition, FamiliesWithoutSamplesStillSayWhatTheyAre) {
    const std::string text = render_metrics({}, {});
    for (const char *family : {"sockhost_requests_total", "sockhost_connections_open", "sockhost_worker_restarts_total",
                               "process_open_fds"})
        EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
}

TEST(AdminHttp, AnswersWhenTheHeadIsComplete) {
    AdminPages pages{[] { return false; }, [] { return std::string("m 1\n"); }};
    EXPECT_FALSE(answer_admin_request("GET /healthz HTTP/1.1\r\n", pages));
    const auto health = answer_admin_request("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", pages);
    ASSERT_TRUE(health);
    EXPECT_TRUE(health->starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_NE(health->find("Content-Length: 3\r\n"), std::string::npos);
    EXPECT_NE(health->find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(answer_admin_request("GET /readyz HTTP/1.0\r\n\r\n", pages)->starts_with("HTTP/1.1 503 "));
    EXPECT_TRUE(answer_admin_request("GET /metrics?x=1 HTTP/1.1\r\n\r\n", pages)->ends_with("\r\n\r\nm 1\n"));
    EXPECT_TRUE(answer_admin_request("GET /other HTTP/1.1\r\n\r\n", pages)->starts_with("HTTP/1.1 404 "));
    EXPECT_TRUE(answer_admin_request("DELETE /metrics HTTP/1.1\r\n\r\n", pages)->starts_with("HTTP/1.1 405 "));
    EXPECT_TRUE(answer_admin_request("GET / HTTP/2.0\r\n\r\n", pages)->starts_with("HTTP/1.1 400 "));
    EXPECT_TRUE(answer_admin_request("\x01\x02 garbage\r\n\r\n", pages)->starts_with("HTTP/1.1 400 "));
    const std::string endless = "GET /healthz HTTP/1.1\r\n" + std::string(kMaxAdminRequest, 'a');
    EXPECT_TRUE(answer_admin_request(endless, pages)->starts_with("HTTP/1.1 431 "));
}

}  // namespace
}  // namespace sockhost
