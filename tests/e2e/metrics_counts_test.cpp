// Exact request counts on /metrics, surviving a worker's SIGKILL and a reload. These
// need the worker-side counting (the workers filling their metrics tables).
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

const std::string kOk =
    "sockhost_requests_total{listener=\"tcp://127.0.0.1:0\",plugin=\"probe\",mode=\"threading\",outcome=\"ok\"}";

void echo_requests(const HostUnderTest &host, int count) {
    for (int request = 0; request < count; ++request) {
        UniqueFd connection = connect_stream(host.listening()[0]);
        send_all(connection.get(), "echo hi\n");
        ASSERT_EQ(read_line(connection.get()), "hi\n");
    }
}

// Polls /metrics until the ok count is `expected` (a request is counted when it finishes,
// just after its answer).
bool ok_count_becomes(const std::string &admin, const std::string &expected) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (metric_value(http_get(admin, "/metrics").body, kOk) == expected) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

TEST(MetricsCounts, RequestsCountedAcrossACrashAndAReload) {
    auto config = probe_on("threading");
    config["admin"] = "unix:admin.sock";
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string admin = admin_of(host);
    echo_requests(host, 5);
    ASSERT_TRUE(ok_count_becomes(admin, "5")) << http_get(admin, "/metrics").body;
    ASSERT_EQ(::kill(host.worker_pid(), SIGKILL), 0);
    ASSERT_TRUE(host.wait_for_log("replaced (pid")) << host.log();
    EXPECT_EQ(metric_value(http_get(admin, "/metrics").body, kOk), "5");  // kept from the dead worker
    echo_requests(host, 3);
    ASSERT_TRUE(ok_count_becomes(admin, "8"));
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 2 is serving")) << host.log();
    echo_requests(host, 2);
    EXPECT_TRUE(ok_count_becomes(admin, "10")) << http_get(admin, "/metrics").body;
    // The old generation exits: its counts stay.
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();
    EXPECT_EQ(metric_value(http_get(admin, "/metrics").body, kOk), "10");
}

}  // namespace
}  // namespace sockhost::test
