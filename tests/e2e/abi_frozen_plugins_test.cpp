// The ABI promise: a plugin binary built for any 1.x loads and works on this host. The
// exerciser (tests/plugins/abi_exerciser.c) is built against each released minor's frozen
// plugin.h (plugin-api/abi/1.N) and uses every member that minor had; each build runs in
// the real host here: its answers, its log lines, and what its minor added (1.1 stopping
// in a drain, 1.2 a connection and state moved across a reload, 1.3 metrics on /metrics,
// 1.4 error kinds, user data and instance info, 1.5 the peer's identity).
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sockhost/plugin.h>

#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <thread>

#include <unistd.h>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

class FrozenAbiPlugin : public ::testing::TestWithParam<int> {
protected:
    int minor() const { return GetParam(); }
    std::string name() const { return "abi_exerciser_1_" + std::to_string(minor()); }
    std::string prefix() const { return "exerciser 1." + std::to_string(minor()); }

    nlohmann::json config(const char *mode = "threading") const {
        return {{"admin", "unix:admin.sock"},
                {"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", name()}, {"mode", mode}}}}};
    }
    std::vector<std::filesystem::path> plugins() const { return {test_plugin(name())}; }
};

int occurrences(const std::string &text, const std::string &part) {
    int count = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
    return count;
}

TEST_P(FrozenAbiPlugin, LoadsAndServesWithEveryMemberOfItsMinor) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(config(mode), plugins());
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_TRUE(host.wait_for_log("loaded plugin " + (host.plugin_dir() / (name() + ".so")).string() + ": " +
                                      name() + " 1." + std::to_string(minor()) + ", ABI 1." +
                                      std::to_string(minor())))
            << host.log();
        EXPECT_TRUE(host.wait_for_log(prefix() + " process_init")) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "echo hello there\n");
        EXPECT_EQ(read_line(client.get()), "hello there\n");
        send_all(client.get(), "read 3\nabc");
        EXPECT_EQ(read_line(client.get()), "read=abc\n");
        send_all(client.get(), "where\n");
        const std::string where = read_line(client.get());
        EXPECT_EQ(where.rfind("peer=127.0.0.1:", 0), 0u) << where;
        EXPECT_NE(where.find(" local=127.0.0.1:" + std::to_string(host.port(0)) + " transport=1 sockaddrs=ok\n"),
                  std::string::npos)
            << where;
        send_all(client.get(), "timeout\nsleep\nlog\n");
        EXPECT_EQ(read_line(client.get()), "timeout=1234\n");
        EXPECT_EQ(read_line(client.get()), "slept\n");
        EXPECT_EQ(read_line(client.get()), "logged\n");
        EXPECT_TRUE(host.wait_for_log(prefix() + " logs")) << host.log();

        send_all(client.get(), "long\n" + std::string(40, 'x') + "\n");
        const std::string too_long = read_line(client.get());
        EXPECT_EQ(too_long.rfind("too_long: read_line: line longer than 7 bytes", 0), 0u) << too_long;
        if (minor() >= 4) {
            EXPECT_EQ(too_long, "too_long: read_line: line longer than 7 bytes kind=4\n");
            send_all(client.get(), "user\n");
            EXPECT_EQ(read_line(client.get()), "user_data=attached\n") << "the conversation goes on";
        } else {
            EXPECT_EQ(read_until_eof(client.get()), "") << "before 1.4 the exerciser ends the request";
        }
        client.reset();

        UniqueFd failing = connect_stream(host.listening()[0]);
        send_all(failing.get(), "fail\n");
        EXPECT_EQ(read_until_eof(failing.get()), "");
        EXPECT_TRUE(host.wait_for_log(prefix() + " fails on purpose")) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo still serving\n"), "still serving\n");
        if (minor() >= 4) {
            // Three connections, each released once (under forking, the worker's copy too).
            const int expected = std::string(mode) == "forking" ? 6 : 3;
            const auto deadline = std::chrono::steady_clock::now() + 10s;
            while (occurrences(host.log(), prefix() + " released user data") < expected &&
                   std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(20ms);
            EXPECT_EQ(occurrences(host.log(), prefix() + " released user data"), expected) << host.log();
        }
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
        EXPECT_EQ(host.log().find("unknown command"), std::string::npos);
    }
}

// 1.1's stopping: a request busy when a reload drains it hears of it, unless (from 1.2,
// which opts in to handoff) its connection will move to the next generation instead.
TEST_P(FrozenAbiPlugin, StoppingIsTrueInADrainFromItsMinorOn) {
    if (minor() < 1) GTEST_SKIP() << "ABI 1.0 has no stopping";
    HostUnderTest host(config(), plugins());
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "echo before\n");
    ASSERT_EQ(read_line(client.get()), "before\n");
    send_all(client.get(), "hold\n");
    std::this_thread::sleep_for(100ms);  // the exerciser is in its 500 ms sleep
    ::kill(host.pid(), SIGHUP);
    if (minor() == 1) {
        EXPECT_EQ(read_line(client.get()), "stopping=1\n");
    } else {
        EXPECT_EQ(read_line(client.get()), "stopping=0\n") << "a connection that will move is not told to stop";
        ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();
        send_all(client.get(), "echo after\n");
        EXPECT_EQ(read_line(client.get()), "handed over with state \n") << "moved, with no state attached";
        EXPECT_EQ(read_line(client.get()), "after\n") << "served on by generation 2";
    }
}

// 1.2: an idle connection moves with its attached state, and the instance's count moves
// with export_state and import_state.
TEST_P(FrozenAbiPlugin, AConnectionAndStateMoveAcrossAReloadFrom1_2) {
    if (minor() < 2) GTEST_SKIP() << "handoff came in ABI 1.2";
    HostUnderTest host(config(), plugins());
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "state login=ada\n");
    ASSERT_EQ(read_line(client.get()), "attached\n");
    send_all(client.get(), "echo one\n");
    ASSERT_EQ(read_line(client.get()), "one\n");
    ::kill(host.pid(), SIGHUP);
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();
    send_all(client.get(), "echo two\n");
    EXPECT_EQ(read_line(client.get()), "handed over with state login=ada\n");
    EXPECT_EQ(read_line(client.get()), "two\n");
    // Two lines in generation 1, exported; then "echo two" and this one.
    EXPECT_EQ(stream_exchange(host.listening()[0], "count\n"), "served=4\n");
}

// 1.3: the metrics it declares are on the admin endpoint's /metrics, updated.
TEST_P(FrozenAbiPlugin, ItsMetricsAreOnTheAdminEndpointFrom1_3) {
    if (minor() < 3) GTEST_SKIP() << "plugin metrics came in ABI 1.3";
    HostUnderTest host(config(), plugins());
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo 12345\necho 1\n"), "12345\n1\n");
    const std::string labels = "{listener=\"tcp://127.0.0.1:0\",plugin=\"" + name() + "\",mode=\"threading\"}";
    const std::string admin = admin_of(host);
    std::string exposition;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
        exposition = http_get(admin, "/metrics").body;
        if (metric_value(exposition, "exerciser_lines_total" + labels) == "2") break;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(metric_value(exposition, "exerciser_lines_total" + labels), "2") << exposition;
    EXPECT_EQ(metric_value(exposition, "exerciser_last_line_bytes" + labels), "8") << "\"echo 1\\n\", plus one";
    EXPECT_EQ(metric_value(exposition, "exerciser_line_bytes_count" + labels), "2") << exposition;
}

// 1.4: the instance is told where it runs.
TEST_P(FrozenAbiPlugin, TheInstanceIsToldWhereItRunsFrom1_4) {
    if (minor() < 4) GTEST_SKIP() << "instance_info came in ABI 1.4";
    HostUnderTest host(config("event"), plugins());
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_TRUE(host.wait_for_log(prefix() + " instance: mode=4 generation=1 worker=1 transport=1 address=" +
                                  host.listening()[0]))
        << host.log();
}

// 1.5: a Unix peer's credentials come through peer_identity.
TEST_P(FrozenAbiPlugin, ItLearnsAUnixPeersUidFrom1_5) {
    if (minor() < 5) GTEST_SKIP() << "peer_identity came in ABI 1.5";
    TempDir socket_dir;
    const std::string listen = "unix:" + (socket_dir / "exerciser.sock").string();
    HostUnderTest host({{"listeners", {{{"listen", listen}, {"plugin", name()}, {"mode", "event"}}}}}, plugins());
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "identity\n");
    EXPECT_EQ(read_line(client.get()), "flags=8 uid=" + std::to_string(::getuid()) + " tls= subject=\n");
}

static_assert(SOCKHOST_ABI_MINOR == 5,
              "a new minor needs its frozen header, an exerciser build (tests/plugins/CMakeLists.txt) and a value here");
INSTANTIATE_TEST_SUITE_P(EachReleasedMinor, FrozenAbiPlugin, ::testing::Values(0, 1, 2, 3, 4, 5),
                         [](const ::testing::TestParamInfo<int> &minor) {
                             return "abi_1_" + std::to_string(minor.param);
                         });

}  // namespace
}  // namespace sockhost::test
