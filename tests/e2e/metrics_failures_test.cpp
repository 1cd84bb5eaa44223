// Requests that do not end ok, as /metrics counts them (docs/operations.md, "When the
// counters move"): a failing hook, a silent client past the timeout, a request cut off by
// the drain deadline, refused and denied peers, a forking child that dies, and accept()
// failing for want of descriptors.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

namespace sockhost::test {
namespace {

const std::string kListen = "tcp://127.0.0.1:0";

nlohmann::json probe_listener(const std::string &mode, nlohmann::json options = nlohmann::json::object()) {
    nlohmann::json listener = {{"listen", kListen}, {"plugin", "probe"}, {"mode", mode}, {"config", {{"log_hooks", true}}}};
    for (const auto &[key, value] : options.items()) listener[key] = value;
    return listener;
}

nlohmann::json admin_config(nlohmann::json listener) {
    return {{"admin", "unix:admin.sock"}, {"listeners", {std::move(listener)}}};
}


std::string requests(const std::string &mode, const std::string &outcome) {
    return listener_series("sockhost_requests_total", kListen, "probe", mode, "outcome=\"" + outcome + "\"");
}
std::string open_connections(const std::string &mode) {
    return listener_series("sockhost_connections_open", kListen, "probe", mode);
}

// Scrapes until the one request of `mode` is counted as `outcome` with its connection
// closed, then checks that it is the only request counted.
void expect_one_request(const HostUnderTest &host, const std::string &mode, const std::string &outcome) {
    const std::string exposition = scrape_until(admin_of(host), {{requests(mode, outcome), "1"}, {open_connections(mode), "0"}});
    EXPECT_EQ(metric_value(exposition, requests(mode, outcome)), "1") << exposition << host.log();
    EXPECT_EQ(metric_value(exposition, open_connections(mode)), "0");
    for (const char *other : {"ok", "error", "timeout", "refused", "denied", "cancelled"}) {
        if (other != outcome) {
            EXPECT_EQ(metric_value(exposition, requests(mode, other)), "0") << other;
        }
    }
    EXPECT_EQ(metric_value(exposition, listener_series("sockhost_request_duration_seconds_count", kListen, "probe", mode)), "1");
}

const char *const kModes[] = {"sync", "threading", "forking", "event"};
std::string mode_name(const ::testing::TestParamInfo<const char *> &cell) { return cell.param; }

class MetricsOutcomes : public ::testing::TestWithParam<const char *> {};

TEST_P(MetricsOutcomes, AFailingHookIsAnError) {
    const std::string mode = GetParam();
    HostUnderTest host(admin_config(probe_listener(mode)), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    // The probe throws on a command it does not know: handle fails.
    EXPECT_EQ(stream_exchange(host.listening()[0], "nonsense\n"), "");
    expect_one_request(host, mode, "error");
    const std::string exposition = http_get(admin_of(host), "/metrics").body;
    EXPECT_EQ(metric_value(exposition, listener_series("sockhost_received_bytes_total", kListen, "probe", mode)), "9");
}

TEST_P(MetricsOutcomes, AClientSilentPastTheTimeoutIsATimeout) {
    const std::string mode = GetParam();
    HostUnderTest host(admin_config(probe_listener(mode, {{"timeout", 0.3}})), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "echo half");  // no end of line: the probe waits for the rest
    EXPECT_EQ(read_until_eof(client.get()), "") << "the host ends the request";
    client.reset();  // the host lingers, reading, until the client closes too
    expect_one_request(host, mode, "timeout");
    const std::string exposition = http_get(admin_of(host), "/metrics").body;
    EXPECT_EQ(metric_value(exposition, listener_series("sockhost_received_bytes_total", kListen, "probe", mode)), "9");
}

TEST_P(MetricsOutcomes, AFailingSetupIsAnError) {
    const std::string mode = GetParam();
    HostUnderTest host(admin_config(probe_listener(mode, {{"config", {{"fail_setup", true}}}})), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo hi\n"), "");
    expect_one_request(host, mode, "error");
}

// A client that resets its connection while a long answer is still being written.
TEST_P(MetricsOutcomes, AnAnswerThatCannotBeSentIsAnError) {
    const std::string mode = GetParam();
    HostUnderTest host(admin_config(probe_listener(mode)), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "big 16000000\n");  // far more than the sockets' buffers hold
    EXPECT_FALSE(read_exactly(client.get(), 1024).empty()) << "the answer has begun";
    const linger reset{1, 0};
    ASSERT_EQ(::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    client.reset();  // RST
    expect_one_request(host, mode, "error");
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsOutcomes, ::testing::ValuesIn(kModes), mode_name);

class MetricsCancelled : public ::testing::TestWithParam<const char *> {};

TEST_P(MetricsCancelled, ARequestStillReadingAtTheDrainDeadlineIsCancelled) {
    const std::string mode = GetParam();
    auto config = admin_config(probe_listener(mode));
    config["drain_timeout"] = 0.3;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "echo half");  // mid-request, not idle: the reload waits for it
    ASSERT_TRUE(host.wait_for_log("probe - hook handle")) << host.log();
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", std::chrono::seconds(20))) << host.log();
    EXPECT_EQ(read_until_eof(client.get()), "");
    expect_one_request(host, mode, "cancelled");
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsCancelled, ::testing::ValuesIn(kModes), mode_name);

TEST(MetricsAdmission, RefusedAndDeniedPeers) {
    HostUnderTest refusing(admin_config(probe_listener("threading", {{"config", {{"refuse", true}}}})), {test_plugin("probe")});
    ASSERT_TRUE(refusing.ready()) << refusing.log();
    EXPECT_EQ(stream_exchange(refusing.listening()[0], "echo hi\n"), "");
    expect_one_request(refusing, "threading", "refused");

    HostUnderTest denying(admin_config(probe_listener("threading", {{"deny", {"127.0.0.0/8"}}})), {test_plugin("probe")});
    ASSERT_TRUE(denying.ready()) << denying.log();
    EXPECT_EQ(stream_exchange(denying.listening()[0], "echo hi\n"), "");
    expect_one_request(denying, "threading", "denied");
}

// A datagram is a request too: refused or denied, it is counted once by its outcome.
TEST(MetricsAdmission, RefusedAndDeniedDatagrams) {
    const std::string listen = "udp://127.0.0.1:0";
    for (const auto &[outcome, options] : {std::pair<std::string, nlohmann::json>{"refused", {{"config", {{"refuse", true}}}}},
                                           {"denied", {{"deny", {"127.0.0.0/8"}}}}}) {
        SCOPED_TRACE(outcome);
        nlohmann::json listener = probe_listener("threading", options);
        listener["listen"] = listen;
        HostUnderTest host(admin_config(listener), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient client(host.listening()[0]);
        client.send("echo hi\n");
        const std::string counted = listener_series("sockhost_requests_total", listen, "probe", "threading",
                                                    "outcome=\"" + outcome + "\"");
        const std::string exposition = scrape_until(admin_of(host), {{counted, "1"}});
        EXPECT_EQ(metric_value(exposition, counted), "1") << exposition << host.log();
        EXPECT_EQ(metric_value(exposition, listener_series("sockhost_requests_total", listen, "probe", "threading",
                                                           "outcome=\"ok\"")), "0");
        EXPECT_EQ(client.receive(std::chrono::milliseconds(100)), std::nullopt) << "no answer";
    }
}

// Forking mode: the child that dies before counting its request leaves the count to the
// parent, which reaps it: one error, and no connection left open.
TEST(MetricsForking, AChildThatCrashesIsCountedAsAnError) {
    HostUnderTest host(admin_config(probe_listener("forking")), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "crash\n"), "");
    expect_one_request(host, "forking", "error");
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo still\n"), "still\n");
    const std::string exposition = scrape_until(admin_of(host), {{requests("forking", "ok"), "1"}});
    EXPECT_EQ(metric_value(exposition, requests("forking", "ok")), "1") << exposition;
    EXPECT_EQ(metric_value(exposition, requests("forking", "error")), "1");
}

TEST(MetricsForking, AChildKilledWhileItServesIsCountedAsAnErrorAndItsConnectionCloses) {
    HostUnderTest host(admin_config(probe_listener("forking")), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    auto hanging = hanging_probe_request(host.listening()[0]);
    ASSERT_GT(hanging.pid, 0);
    ASSERT_NE(hanging.pid, host.worker_pid()) << "a request child serves it";
    const std::string open = open_connections("forking");
    const std::string held = scrape_until(admin_of(host), {{open, "1"}});
    EXPECT_EQ(metric_value(held, open), "1") << held;
    ASSERT_EQ(::kill(hanging.pid, SIGKILL), 0);
    EXPECT_EQ(read_until_eof(hanging.connection.get()), "");
    expect_one_request(host, "forking", "error");
}

// A child still running at the drain deadline is signalled: once the stop has begun, its
// request is cancelled, not an error. "hang" dies of the SIGTERM; "hang ignoring-sigterm"
// lives until the SIGKILL.
class MetricsForkingAtTheDrainDeadline : public ::testing::TestWithParam<const char *> {};

TEST_P(MetricsForkingAtTheDrainDeadline, AChildKilledIsCancelled) {
    auto config = admin_config(probe_listener("forking"));
    config["drain_timeout"] = 0.3;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    auto hanging = hanging_probe_request(host.listening()[0], GetParam());
    ASSERT_GT(hanging.pid, 0);
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", std::chrono::seconds(20))) << host.log();
    EXPECT_EQ(read_until_eof(hanging.connection.get()), "");
    EXPECT_TRUE(ended_within(hanging.pid));
    expect_one_request(host, "forking", "cancelled");
}

INSTANTIATE_TEST_SUITE_P(Hangs, MetricsForkingAtTheDrainDeadline, ::testing::Values("plain", "ignoring-sigterm"),
                         [](const auto &cell) { return std::string(cell.param) == "plain" ? "DiesOfSigterm" : "IgnoresSigterm"; });

// A worker killed with a connection open: its counters stay (the supervisor keeps them),
// its gauge leaves with it, and the replacement serves.
TEST(MetricsWorkerDeath, CountersStayAndTheOpenConnectionGoesWithTheWorker) {
    HostUnderTest host(admin_config(probe_listener("threading")), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd held = connect_stream(host.listening()[0]);
    send_all(held.get(), "echo held\n");
    ASSERT_EQ(read_line(held.get()), "held\n");
    const std::string open = open_connections("threading");
    const std::string received = listener_series("sockhost_received_bytes_total", kListen, "probe", "threading");
    const std::string accepted = listener_series("sockhost_connections_accepted_total", kListen, "probe", "threading");
    const std::string before = scrape_until(admin_of(host), {{open, "1"}, {received, "10"}});
    ASSERT_EQ(metric_value(before, open), "1") << before;
    ASSERT_EQ(::kill(host.worker_pid(), SIGKILL), 0);
    ASSERT_TRUE(host.wait_for_log("replaced (pid")) << host.log();
    EXPECT_EQ(read_until_eof(held.get()), "");
    const std::string after = scrape_until(admin_of(host), {{open, "0"}});
    EXPECT_EQ(metric_value(after, open), "0") << after;
    EXPECT_EQ(metric_value(after, accepted), "1");
    EXPECT_EQ(metric_value(after, received), "10") << "added at between_requests, kept from the dead worker";
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo next\n"), "next\n");
    const std::string served = scrape_until(admin_of(host), {{requests("threading", "ok"), "1"}});
    EXPECT_EQ(metric_value(served, requests("threading", "ok")), "1") << served;
    EXPECT_EQ(metric_value(served, accepted), "2");
}

// A datagram's child that dies is an error too, and no connection: the gauge stays at 0.
TEST(MetricsForking, ADatagramChildThatCrashesIsCountedAsAnError) {
    const std::string listen = "udp://127.0.0.1:0";
    nlohmann::json listener = probe_listener("forking");
    listener["listen"] = listen;
    HostUnderTest host(admin_config(listener), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    client.send("crash\n");
    ASSERT_TRUE(host.wait_for_log("request child")) << host.log();
    EXPECT_EQ(client.exchange("echo after\n"), "after\n");
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, listen, "probe", "forking", extra);
    };
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    const std::string error = series("sockhost_requests_total", "outcome=\"error\"");
    const std::string exposition = scrape_until(admin_of(host), {{ok, "1"}, {error, "1"}});
    EXPECT_EQ(metric_value(exposition, ok), "1") << exposition;
    EXPECT_EQ(metric_value(exposition, error), "1");
    EXPECT_EQ(metric_value(exposition, series("sockhost_connections_open")), "0");
    EXPECT_EQ(metric_value(exposition, series("sockhost_connections_accepted_total")), "0");
    EXPECT_EQ(metric_value(exposition, series("sockhost_request_duration_seconds_count")), "2");
}

// The lowest descriptor number `pid` does not use: with RLIMIT_NOFILE at it, the next
// descriptor the process asks for fails with EMFILE.
rlim_t lowest_free_descriptor(pid_t pid) {
    std::set<rlim_t> used;
    for (const auto &entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        used.insert(std::stoul(entry.path().filename().string()));
    rlim_t lowest = 0;
    while (used.contains(lowest)) ++lowest;
    return lowest;
}

// Accepting fails while the worker has no descriptor to spare; each failed attempt counts,
// and the host's own log line says how many there were.
class MetricsAcceptErrors : public ::testing::TestWithParam<const char *> {};

TEST_P(MetricsAcceptErrors, EachAcceptFailingWithEmfileIsCounted) {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan's vptr check probes memory through a pipe; out of descriptors it cannot, and
    // reports a valid object as of the wrong type (seen in BlockingMode::serve).
    GTEST_SKIP() << "not in the ASan+UBSan build: its vptr check needs a descriptor to spare";
#endif
    const std::string mode = GetParam();
    HostUnderTest host(admin_config(probe_listener(mode)), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const pid_t worker = host.worker_pid();
    rlimit normal{};
    ASSERT_EQ(::prlimit(worker, RLIMIT_NOFILE, nullptr, &normal), 0);
    const rlimit exhausted{lowest_free_descriptor(worker), normal.rlim_max};
    ASSERT_EQ(::prlimit(worker, RLIMIT_NOFILE, &exhausted, nullptr), 0);
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "echo late\n");
    const bool paused = host.wait_for_log("pausing accepts");
    ASSERT_EQ(::prlimit(worker, RLIMIT_NOFILE, &normal, nullptr), 0);
    ASSERT_TRUE(paused) << host.log();
    EXPECT_EQ(read_line(client.get()), "late\n") << "served once descriptors are free again";
    ASSERT_TRUE(host.wait_for_log("failed attempt(s)")) << host.log();
    std::smatch attempts;
    const std::string log = host.log();
    ASSERT_TRUE(std::regex_search(log, attempts, std::regex("accepting again after (\\d+) failed attempt")));
    const std::string errors = listener_series("sockhost_accept_errors_total", kListen, "probe", mode);
    const std::string exposition = scrape_until(admin_of(host), {{errors, attempts[1].str()}});
    EXPECT_EQ(metric_value(exposition, errors), attempts[1].str()) << exposition;
    client.reset();
    const std::string served = scrape_until(admin_of(host), {{requests(mode, "ok"), "1"}});
    EXPECT_EQ(metric_value(served, requests(mode, "ok")), "1") << served;
    EXPECT_EQ(metric_value(served, listener_series("sockhost_connections_accepted_total", kListen, "probe", mode)), "1");
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsAcceptErrors, ::testing::ValuesIn(kModes), mode_name);

}  // namespace
}  // namespace sockhost::test
