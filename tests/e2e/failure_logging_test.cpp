// What the host logs, and at which level, when a request fails for reasons that are not
// the plugin's: a keep-alive client left idle until its timeout (the usual end of a
// connection: debug, outcome ok), a client that resets mid-request (info, not error), and
// a plugin's own failure (error). With the real binary and the bundled kv plugin, which
// returns an error for the read that fails.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json kv_with_timeout(const char *mode, const char *log_level) {
    return {{"admin", "unix:admin.sock"},
            {"log_level", log_level},
            {"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "kv"}, {"mode", mode}, {"timeout", 0.3}}}}};
}

std::string series(const char *mode, const char *outcome) {
    return std::string("sockhost_requests_total{listener=\"tcp://127.0.0.1:0\",plugin=\"kv\",mode=\"") + mode +
           "\",outcome=\"" + outcome + "\"}";
}

bool becomes(const std::string &admin, const std::string &name, const std::string &expected) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (metric_value(http_get(admin, "/metrics").body, name) == expected) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// Lines of `log` at `level` ("error", "info", "debug") that mention `text`.
int lines_at(const std::string &log, const char *level, const std::string &text) {
    int count = 0;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);)
        if (line.find(std::string(" ") + level + ": ") != std::string::npos && line.find(text) != std::string::npos)
            ++count;
    return count;
}

TEST(FailureLogging, AnIdleKeepAliveConnectionEndsAtDebugLevelAndCountsOk) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(kv_with_timeout(mode, "debug"), {bundled_plugin("kv")});
        ASSERT_TRUE(host.ready()) << host.log();
        const std::string admin = admin_of(host);
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "SET colour blue\n");
        ASSERT_EQ(read_line(client.get()), "OK\n");
        EXPECT_EQ(read_until_eof(client.get()), "") << "closed by the host after 300 ms idle";
        EXPECT_TRUE(becomes(admin, series(mode, "ok"), "1")) << http_get(admin, "/metrics").body;
        EXPECT_EQ(metric_value(http_get(admin, "/metrics").body, series(mode, "error")), "0");
        ASSERT_TRUE(host.wait_for_log("(between requests)")) << host.log();
        EXPECT_EQ(lines_at(host.log(), "debug", "kv: handle failed for 127.0.0.1:"), 1) << host.log();
        EXPECT_EQ(lines_at(host.log(), "error", "failed for"), 0) << host.log();
        EXPECT_EQ(lines_at(host.log(), "info", "failed for"), 0) << host.log();
    }
}

// A client that sends half a command and resets: its doing, logged at info.
TEST(FailureLogging, APeerResetMidRequestIsInfoNotError) {
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(kv_with_timeout(mode, "info"), {bundled_plugin("kv")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "SET colour bl");
        std::this_thread::sleep_for(50ms);  // the host is waiting for the rest of the line
        const linger reset_on_close{1, 0};
        ASSERT_EQ(::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close), 0);
        client.reset();  // RST
        ASSERT_TRUE(host.wait_for_log("Connection reset by peer")) << host.log();
        EXPECT_EQ(lines_at(host.log(), "info", "kv: handle failed for 127.0.0.1:"), 1) << host.log();
        EXPECT_EQ(lines_at(host.log(), "error", "failed for"), 0) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "GET colour\n"), "NOT_FOUND\n");
    }
}

// A line over max_line_bytes is the plugin's refusal of the request: still an error.
TEST(FailureLogging, APluginsOwnFailureStaysAnError) {
    auto config = kv_with_timeout("threading", "info");
    config["listeners"][0]["config"] = {{"max_line_bytes", 16}};
    HostUnderTest host(config, {bundled_plugin("kv")});
    ASSERT_TRUE(host.ready()) << host.log();
    stream_exchange(host.listening()[0], "SET colour " + std::string(64, 'x') + "\n");
    ASSERT_TRUE(host.wait_for_log("failed for")) << host.log();
    EXPECT_EQ(lines_at(host.log(), "error", "kv: handle failed for 127.0.0.1:"), 1) << host.log();
}

// An answer that cannot be sent because its client is gone (a unix-dgram client that
// closed and removed its socket) is logged as the other request failures are, and, the
// peer's doing, at info.
TEST(FailureLogging, AnAnswerToAClientGoneIsLoggedInTheSameFormAtInfo) {
    for (const char *mode : {"sync", "threading"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(probe_on(mode, "unix-dgram:probe.sock"), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        {
            DatagramClient client(host.listening()[0]);
            client.send("sleep 300\n");
        }  // gone, its socket file removed, before the answer is sent
        ASSERT_TRUE(host.wait_for_log("sending the answer failed for unix:")) << host.log();
        EXPECT_EQ(lines_at(host.log(), "info", "probe: sending the answer failed for unix:"), 1) << host.log();
        EXPECT_EQ(lines_at(host.log(), "error", "failed for"), 0) << host.log();
    }
}

}  // namespace
}  // namespace sockhost::test
