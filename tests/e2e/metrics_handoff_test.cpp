// A connection handed to the next generation at a reload, as /metrics counts it
// (docs/operations.md, "When the counters move", Reloads): accepted once, open once while
// held (also parked, and moved on from there), no request in the old workers, one fresh
// request in the last one; bytes in both that served it.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <vector>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

const std::string kListen = "tcp://127.0.0.1:0";

std::string ask(int fd, const std::string &command) {
    send_all(fd, command + "\n");
    std::string line = read_line(fd);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

// Reloads and waits until generation `old_generation` has exited: every connection moved.
::testing::AssertionResult reload_until_exited(const HostUnderTest &host, int old_generation) {
    const auto reload = run_sockhost_command("reload -c " + host.config_path().string());
    if (reload.exit_code != 0) return ::testing::AssertionFailure() << reload.output << host.log();
    if (!host.wait_for_log("generation " + std::to_string(old_generation) + " has exited", 20s))
        return ::testing::AssertionFailure() << host.log();
    return ::testing::AssertionSuccess();
}

class MetricsHandoff : public ::testing::TestWithParam<const char *> {};

TEST_P(MetricsHandoff, AnIdleConnectionMovedAtAReloadIsCountedOnce) {
    const std::string mode = GetParam();
    HostUnderTest host({{"admin", "unix:admin.sock"},
                        {"control_socket", "control.sock"},
                        {"listeners",
                         {{{"listen", kListen}, {"plugin", "handoff_probe"}, {"mode", mode}, {"access_log", "access.log"}}}}},
                       {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string admin = admin_of(host);
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, kListen, "handoff_probe", mode, extra);
    };
    const std::string accepted = series("sockhost_connections_accepted_total");
    const std::string open = series("sockhost_connections_open");
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    const std::string durations = series("sockhost_request_duration_seconds_count");

    UniqueFd client = connect_stream(host.listening()[0]);
    const std::string first_pid = ask(client.get(), "pid");
    const std::string before = scrape_until(admin, {{accepted, "1"}, {open, "1"}});
    EXPECT_EQ(metric_value(before, accepted), "1") << before;
    EXPECT_EQ(metric_value(before, open), "1");
    EXPECT_EQ(metric_value(before, ok), "0");

    ASSERT_TRUE(reload_until_exited(host, 1));
    // Held by generation 2 now; the old worker's counters are kept by the supervisor.
    const std::string held = http_get(admin, "/metrics").body;
    EXPECT_EQ(metric_value(held, accepted), "1") << "not accepted again\n" << held;
    EXPECT_EQ(metric_value(held, open), "1");
    EXPECT_EQ(metric_value(held, ok), "0") << "handed over, not ended, in generation 1";
    EXPECT_EQ(metric_value(held, durations), "0");
    // Silent since it moved: parked in generation 2, it moves on with a batch from there.
    ASSERT_TRUE(reload_until_exited(host, 2));
    const std::string parked = http_get(admin, "/metrics").body;
    EXPECT_EQ(metric_value(parked, open), "1") << "open once, in generation 3\n" << parked;
    EXPECT_EQ(metric_value(parked, accepted), "1");
    EXPECT_EQ(metric_value(parked, ok), "0") << "no request in generation 2";

    const std::string second_pid = ask(client.get(), "pid");
    EXPECT_NE(second_pid, first_pid) << "generation 3 answers";
    client.reset();
    const std::string after = scrape_until(admin, {{ok, "1"}, {open, "0"}});
    EXPECT_EQ(metric_value(after, ok), "1") << after;
    EXPECT_EQ(metric_value(after, open), "0");
    EXPECT_EQ(metric_value(after, accepted), "1");
    EXPECT_EQ(metric_value(after, durations), "1");
    EXPECT_EQ(metric_value(after, series("sockhost_requests_total", "outcome=\"cancelled\"")), "0");
    // "pid\n" twice in; each generation's pid and a newline out.
    EXPECT_EQ(metric_value(after, series("sockhost_received_bytes_total")), "8");
    EXPECT_EQ(metric_value(after, series("sockhost_sent_bytes_total")),
              std::to_string(first_pid.size() + second_pid.size() + 2));

    // One access log line, from generation 3, which ended the request: its own bytes.
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    std::ifstream log(host.dir() / "access.log");
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(log, line);) lines.push_back(nlohmann::json::parse(line, nullptr, false));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].value("outcome", ""), "ok") << lines[0];
    EXPECT_EQ(lines[0].value("received", -1), 4) << lines[0];
    EXPECT_EQ(lines[0].value("sent", std::size_t{0}), second_pid.size() + 1) << lines[0];
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsHandoff, ::testing::Values("sync", "threading", "forking", "event"),
                         [](const auto &cell) { return std::string(cell.param); });

// Bytes the old generation had received and the plugin had not read move with the
// connection: counted once, by the generation that read them from the peer. (Were they
// still in the socket at the reload, generation 2 reads them: the same total.)
TEST(MetricsHandoffBytes, BytesMovedUnreadAreCountedOnce) {
    HostUnderTest host({{"admin", "unix:admin.sock"},
                        {"control_socket", "control.sock"},
                        {"listeners", {{{"listen", kListen}, {"plugin", "handoff_probe"}, {"mode", "threading"}}}}},
                       {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string admin = admin_of(host);
    UniqueFd client = connect_stream(host.listening()[0]);
    const std::string first_pid = ask(client.get(), "pid");
    send_all(client.get(), "pi");  // half a request: read by the host, not by the plugin
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(reload_until_exited(host, 1));
    const std::string second_pid = ask(client.get(), "d");
    EXPECT_NE(second_pid, first_pid);
    client.reset();
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, kListen, "handoff_probe", "threading", extra);
    };
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    const std::string exposition = scrape_until(admin, {{ok, "1"}, {series("sockhost_connections_open"), "0"}});
    EXPECT_EQ(metric_value(exposition, ok), "1") << exposition;
    EXPECT_EQ(metric_value(exposition, series("sockhost_received_bytes_total")), "8") << "pid\\n, pi, d\\n";
    EXPECT_EQ(metric_value(exposition, series("sockhost_sent_bytes_total")),
              std::to_string(first_pid.size() + second_pid.size() + 2));
}

// Silent connections parked by one generation move on to the next in one batch: each is
// open once throughout, and none is a request until it speaks.
TEST(MetricsHandoffBatch, ConnectionsMovedOnInABatchAreOpenOnceAndNoRequest) {
    HostUnderTest host({{"admin", "unix:admin.sock"},
                        {"control_socket", "control.sock"},
                        {"listeners", {{{"listen", kListen}, {"plugin", "handoff_probe"}, {"mode", "event"}}}}},
                       {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string admin = admin_of(host);
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, kListen, "handoff_probe", "event", extra);
    };
    const std::string open = series("sockhost_connections_open");
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    std::vector<UniqueFd> clients;
    for (int index = 0; index < 3; ++index) {
        clients.push_back(connect_stream(host.listening()[0]));
        ASSERT_FALSE(ask(clients.back().get(), "pid").empty());
    }
    for (int generation = 1; generation <= 2; ++generation) {
        ASSERT_TRUE(reload_until_exited(host, generation));
    }
    ASSERT_TRUE(host.wait_for_log("handed 3 of 3 parked connection(s)", 5s)) << "one batch\n" << host.log();
    const std::string moved = http_get(admin, "/metrics").body;
    EXPECT_EQ(metric_value(moved, open), "3") << moved;
    EXPECT_EQ(metric_value(moved, ok), "0");
    EXPECT_EQ(metric_value(moved, series("sockhost_connections_accepted_total")), "3");
    for (auto &client : clients) EXPECT_FALSE(ask(client.get(), "pid").empty());
    clients.clear();
    const std::string after = scrape_until(admin, {{ok, "3"}, {open, "0"}});
    EXPECT_EQ(metric_value(after, ok), "3") << after;
    EXPECT_EQ(metric_value(after, open), "0");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

}  // namespace
}  // namespace sockhost::test
