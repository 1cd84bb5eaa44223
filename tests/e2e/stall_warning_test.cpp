// stall_warning: a hook that holds the listener's loop (a CPU loop, or a blocking system
// call instead of the host's sleep) is logged with the listener, plugin, hook, peer and
// how long it held it; short runs are not; repeated stalls are rate-limited; and the loop
// serves the other connections once the stall is over. In event mode ("reactor") and sync
// mode ("server"), the two modes whose loop runs plugin code itself.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <future>
#include <ostream>
#include <regex>
#include <thread>

namespace sockhost::test {
namespace {

struct StallCase {
    const char *mode;
    const char *loop;  // what the warning says stalled
};
void PrintTo(const StallCase &tested, std::ostream *out) { *out << tested.mode; }

class StallWarning : public ::testing::TestWithParam<StallCase> {
protected:
    nlohmann::json config(double stall_warning_seconds, nlohmann::json plugin_config = nlohmann::json::object()) const {
        return {{"listeners",
                 {{{"listen", "tcp://127.0.0.1:0"},
                   {"plugin", "probe"},
                   {"mode", GetParam().mode},
                   {"stall_warning", stall_warning_seconds},
                   {"config", plugin_config}}}}};
    }
    std::string stalled() const { return std::string(GetParam().loop) + " stalled for "; }
};

// The milliseconds of each warning line that names `listener`, `hook` and `peer`.
std::vector<long> stalls_logged(const std::string &log, const std::string &head, const std::string &hook,
                                const std::string &peer) {
    const std::regex line(std::regex_replace(head, std::regex(R"([.*+?^${}()|\[\]\\/])"), R"(\$&)") +
                          R"(([0-9]+) ms in )" + hook + " for peer " + std::regex_replace(peer, std::regex(R"(\.)"), R"(\.)"));
    std::vector<long> found;
    for (std::sregex_iterator match(log.begin(), log.end(), line), end; match != end; ++match)
        found.push_back(std::stol((*match)[1].str()));
    return found;
}

TEST_P(StallWarning, LongHandleIsLoggedOnceWithListenerPluginHookPeerAndDuration) {
    HostUnderTest host(config(0.5), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string head = host.listening()[0] + " (plugin probe): " + stalled();
    // Below the threshold: no warning.
    EXPECT_EQ(stream_exchange(host.listening()[0], "spin 50\n"), "spin 50\n");
    UniqueFd client = connect_stream(host.listening()[0]);
    const std::string peer = local_address_of(client.get());
    send_all(client.get(), "spin 800\n");
    ::shutdown(client.get(), SHUT_WR);
    EXPECT_EQ(read_until_eof(client.get()), "spin 800\n");
    ASSERT_TRUE(host.wait_for_log(stalled())) << host.log();
    const auto stalls = stalls_logged(host.log(), head, "handle", peer);
    ASSERT_EQ(stalls.size(), 1u) << host.log();
    EXPECT_GE(stalls[0], 800) << host.log();
    EXPECT_EQ(count_of(host.log(), stalled()), 1) << "none for the 50 ms request\n" << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST_P(StallWarning, BlockingSleepIsLoggedAndTheLoopServesOthersAfterIt) {
    HostUnderTest host(config(0.1), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd blocker = connect_stream(host.listening()[0]);
    const std::string peer = local_address_of(blocker.get());
    send_all(blocker.get(), "block 500\necho again\n");
    ::shutdown(blocker.get(), SHUT_WR);
    // Connects while the loop is (most likely) held: answered once the blocking call is
    // over (in sync mode, once the blocker's connection has ended).
    auto other = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return stream_exchange(host.listening()[0], "echo after\n");
    });
    EXPECT_EQ(read_until_eof(blocker.get()), "block 500\nagain\n");
    EXPECT_EQ(other.get(), "after\n");
    ASSERT_TRUE(host.wait_for_log(stalled())) << host.log();
    const auto stalls = stalls_logged(host.log(), host.listening()[0] + " (plugin probe): " + stalled(), "handle", peer);
    ASSERT_EQ(stalls.size(), 1u) << host.log();
    EXPECT_GE(stalls[0], 500) << host.log();
}

TEST_P(StallWarning, BlockingVerifyIsLoggedAsVerify) {
    HostUnderTest host(config(0.1, {{"verify_block_ms", 300}}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    const std::string peer = local_address_of(client.get());
    send_all(client.get(), "echo verified\n");
    ::shutdown(client.get(), SHUT_WR);
    EXPECT_EQ(read_until_eof(client.get()), "verified\n");
    ASSERT_TRUE(host.wait_for_log(stalled())) << host.log();
    const auto stalls = stalls_logged(host.log(), host.listening()[0] + " (plugin probe): " + stalled(), "verify", peer);
    ASSERT_EQ(stalls.size(), 1u) << host.log();
    EXPECT_GE(stalls[0], 300) << host.log();
}

TEST_P(StallWarning, ManyStallsAreRateLimitedWithACountOfTheLeftOut) {
    HostUnderTest host(config(0.001), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    // A connection each: each request is a run of its own (a fiber's, or the sync loop's).
    constexpr int kStalls = 60;
    const auto started = std::chrono::steady_clock::now();
    for (int request = 0; request < kStalls; ++request)
        ASSERT_EQ(stream_exchange(host.listening()[0], "spin 3\n"), "spin 3\n");
    // In a later second, one more: its line says how many were left out before it.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ASSERT_EQ(stream_exchange(host.listening()[0], "spin 3\n"), "spin 3\n");
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
    ASSERT_TRUE(host.wait_for_log("were not logged")) << host.log();
    const int logged = count_of(host.log(), stalled());
    EXPECT_GE(logged, 2);
    EXPECT_LT(logged, kStalls + 1) << "some were left out";
    // At most 10 a second (LogRateLimit), in each one-second window the run touched.
    EXPECT_LE(logged, 10 * (static_cast<int>(seconds.count()) + 2)) << host.log();
    EXPECT_NE(host.log().find("more like it since the last one logged were not logged"), std::string::npos);
}

TEST_P(StallWarning, ZeroTurnsItOff) {
    HostUnderTest host(config(0), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "spin 300\n"), "spin 300\n");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    EXPECT_EQ(count_of(host.log(), "stalled for"), 0) << host.log();
}

INSTANTIATE_TEST_SUITE_P(Modes, StallWarning,
                         ::testing::Values(StallCase{"event", "reactor"}, StallCase{"sync", "server"}),
                         [](const auto &tested) { return std::string(tested.param.mode); });

}  // namespace
}  // namespace sockhost::test
