// The supervisor's admin endpoint (`admin`): /healthz, /readyz, /metrics over real
// sockets, with real clients (curl, promtool, Prometheus) where they are installed.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json probe_with_admin(const char *mode = "threading") {
    auto config = probe_on(mode);
    config["admin"] = "unix:admin.sock";
    config["control_socket"] = "control.sock";
    return config;
}


TEST(AdminEndpoint, HealthReadinessAndErrors) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto address = admin_of(host);
    EXPECT_EQ(http_get(address, "/healthz").status, 200);
    EXPECT_EQ(http_get(address, "/healthz").body, "ok\n");
    EXPECT_EQ(http_get(address, "/readyz").status, 200);
    EXPECT_EQ(http_get(address, "/nothing").status, 404);
    EXPECT_EQ(http_exchange(address, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").status, 405);
    EXPECT_EQ(http_exchange(address, "NOT HTTP AT ALL\r\n\r\n").status, 400);
    EXPECT_EQ(http_exchange(address, "GET /healthz HTTP/1.0\r\n\r\n").status, 200);
    const auto metrics = http_get(address, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos);
    EXPECT_NE(metrics.body.find("\nsockhost_generation 1\n"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("# TYPE sockhost_requests_total counter"), std::string::npos);
}

TEST(AdminEndpoint, HostileClientsDoNotBlockOthers) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto address = admin_of(host);
    UniqueFd silent = connect_stream(address);
    UniqueFd endless = connect_stream(address);
    std::string head = "GET /healthz HTTP/1.1\r\n";
    for (int line = 0; line < 200; ++line) head += "X-Filler: " + std::string(60, 'a') + "\r\n";
    // The server answers once it has 8 KiB, but reads on until the close: the send is whole.
    EXPECT_EQ(::send(endless.get(), head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
    EXPECT_EQ(http_get(address, "/healthz").status, 200);
    // The head passed the 8 KiB limit: answered 431 and closed. The rest of the head is
    // read and dropped before the close (a lingering close), so no reset overtakes the answer.
    const timeval wait{10, 0};
    ::setsockopt(endless.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    std::string answer;
    char buffer[4096];
    ssize_t received = 0;
    while ((received = ::recv(endless.get(), buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(received));
    EXPECT_EQ(received, 0) << "the connection did not end cleanly: " << std::strerror(errno);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 ")) << answer;
    EXPECT_EQ(http_get(address, "/healthz").status, 200);
}

// The endpoint is bound before the first generation starts: a probe of a host still
// starting sees 503, then 200 once the generation is READY.
TEST(AdminEndpoint, ReadinessIsUnavailableUntilTheFirstGenerationIsReady) {
    auto config = probe_with_admin();
    config["listeners"][0]["config"]["init_sleep_ms"] = 2000;  // the first generation takes a while
    Launch launch;
    launch.wait_until_ready = false;
    HostUnderTest host(config, {test_plugin("probe")}, launch);
    ASSERT_TRUE(host.wait_for_log("admin endpoint on")) << host.log();
    const auto address = admin_of(host);
    const auto starting = http_get(address, "/readyz");
    EXPECT_EQ(starting.status, 503) << host.log();
    EXPECT_EQ(starting.body, "not ready\n");
    EXPECT_EQ(http_get(address, "/healthz").status, 200);
    EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "sockhost_generation"), "0");
    EXPECT_EQ(host.log().find("] info: ready:"), std::string::npos) << "the probe was not slow enough: " << host.log();
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while ((status = http_get(address, "/readyz").status) != 200 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    EXPECT_EQ(status, 200) << host.log();
    EXPECT_NE(host.log().find("] info: ready:"), std::string::npos) << host.log();
}

TEST(AdminEndpoint, ReadinessTurnsUnavailableWhenTheDrainBegins) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto address = admin_of(host);
    UniqueFd slow = connect_stream(host.listening()[0]);
    send_all(slow.get(), "sleep 4000\n");
    ASSERT_TRUE(host.wait_for_log("sleeping 4000 ms"));
    ASSERT_EQ(::kill(host.pid(), SIGTERM), 0);
    ASSERT_TRUE(host.wait_for_log("stopping gracefully"));
    EXPECT_EQ(http_get(address, "/readyz").status, 503);
    EXPECT_EQ(http_get(address, "/healthz").status, 200);
    // The listener is still open while the drain goes on: readiness turned first.
    EXPECT_TRUE(connect_stream(host.listening()[0]));
    EXPECT_EQ(read_line(slow.get()), "slept\n");
}

TEST(AdminEndpoint, GenerationAndReloadCounters) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto address = admin_of(host);
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 2 is serving")) << host.log();
    EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "sockhost_generation"), "2");
    EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "sockhost_reloads_total{outcome=\"ok\"}"), "1");
    {
        std::ofstream broken(host.config_path());
        broken << "{ not json";
    }
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("reload failed")) << host.log();
    const auto after = http_get(address, "/metrics").body;
    EXPECT_EQ(metric_value(after, "sockhost_reloads_total{outcome=\"failed\"}"), "1");
    EXPECT_EQ(metric_value(after, "sockhost_generation"), "2");
    EXPECT_EQ(metric_value(after, "sockhost_reload_duration_seconds_count"), "2");
}

TEST(AdminEndpoint, AnswersDuringAReload) {
    auto config = probe_with_admin();
    config["listeners"][0]["config"]["init_sleep_ms"] = 1500;  // each new generation takes a while
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto address = admin_of(host);
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 2 starting")) << host.log();
    const auto during = http_get(address, "/metrics");
    EXPECT_EQ(during.status, 200);
    EXPECT_EQ(metric_value(during.body, "sockhost_generation"), "1");
    EXPECT_EQ(metric_value(during.body, "sockhost_workers{state=\"starting\"}"), "1");
    EXPECT_EQ(http_get(address, "/readyz").status, 200);
    ASSERT_TRUE(host.wait_for_log("generation 2 is serving", 20s)) << host.log();
    EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "sockhost_generation"), "2");
}

TEST(AdminEndpoint, WorkerRestartsAfterAKill) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto address = admin_of(host);
    EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "sockhost_worker_restarts_total"), "0");
    ASSERT_EQ(::kill(host.worker_pid(), SIGKILL), 0);
    ASSERT_TRUE(host.wait_for_log("replaced (pid")) << host.log();
    EXPECT_EQ(metric_value(http_get(address, "/metrics").body, "sockhost_worker_restarts_total"), "1");
}

TEST(AdminEndpoint, CurlAndPromtoolAcceptTheExposition) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto socket = (host.dir() / "admin.sock").string();
    if (std::filesystem::exists("/usr/bin/curl")) {
        const auto curl = run_command("curl -sS -f --unix-socket " + socket + " http://localhost/healthz");
        EXPECT_EQ(curl.exit_code, 0) << curl.output;
        EXPECT_EQ(curl.output, "ok\n");
    }
    if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed (Debian: prometheus)";
    const auto metrics_file = host.dir() / "metrics.txt";
    std::ofstream(metrics_file) << http_get(admin_of(host), "/metrics").body;
    const auto checked = run_command("/usr/bin/promtool check metrics < " + metrics_file.string());
    EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

TEST(AdminEndpoint, StatusCommandReportsGenerationsAndListeners) {
    HostUnderTest host(probe_with_admin(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto text = run_sockhost_command("status -c " + host.config_path().string());
    EXPECT_EQ(text.exit_code, 0) << text.output;
    EXPECT_NE(text.output.find("generation 1 serving"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("plugin probe mode threading"), std::string::npos) << text.output;
    const auto json_answer = run_sockhost_command("status --json -c " + host.config_path().string());
    EXPECT_EQ(json_answer.exit_code, 0) << json_answer.output;
    const auto status = nlohmann::json::parse(json_answer.output);
    EXPECT_EQ(status["generations"][0]["state"], "serving");
    EXPECT_EQ(status["generations"][0]["workers"][0]["pid"], host.worker_pid());
}

TEST(AdminEndpoint, ExampleAlertRulesPassPromtool) {
    if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed (Debian: prometheus)";
    // The repository's root, from the plugin header's path: ROOT/plugin-api/include/sockhost/plugin.h.
    const auto root = std::filesystem::path(SOCKHOST_PLUGIN_HEADER).parent_path().parent_path().parent_path().parent_path();
    const auto checked = run_command("/usr/bin/promtool check rules " + (root / "examples/prometheus/sockhost-alerts.yml").string());
    EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

TEST(AdminEndpoint, BindFailureIsAClearStartError) {
    auto config = probe_on("threading");
    config["admin"] = "unix:/nonexistent-dir/admin.sock";
    const auto failure = run_expecting_exit(config, {test_plugin("probe")});
    EXPECT_NE(failure.exit_code, 0);
    EXPECT_NE(failure.log.find("admin unix:/nonexistent-dir/admin.sock"), std::string::npos) << failure.log;
}

}  // namespace
}  // namespace sockhost::test
