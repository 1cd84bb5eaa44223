// setup -> handle -> finish in socketserver's order, failures logged with the peer, and
// the server serving on after every kind of handler failure.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstring>

#include <regex>

namespace sockhost::test {
namespace {

// The hook names the probe logged, in order.
std::vector<std::string> hooks_logged(const std::string &log) {
    static const std::regex hook_line("probe \\S+ hook (\\w+)");
    std::vector<std::string> hooks;
    for (auto match = std::sregex_iterator(log.begin(), log.end(), hook_line); match != std::sregex_iterator(); ++match)
        hooks.push_back((*match)[1]);
    return hooks;
}

nlohmann::json probe(const nlohmann::json &plugin_config, const char *mode = "sync",
                     const char *listen = "tcp://127.0.0.1:0") {
    nlohmann::json full = plugin_config;
    full["log_hooks"] = true;
    return {{"listeners", {{{"listen", listen}, {"plugin", "probe"}, {"mode", mode}, {"config", full}}}}};
}

using Hooks = std::vector<std::string>;

TEST(RequestLifecycle, HooksRunInOrder) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        HostUnderTest host(probe({}, mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo one\n"), "one\n");
        ASSERT_TRUE(host.wait_for_log("hook finish")) << host.log();
        EXPECT_EQ(hooks_logged(host.log()), (Hooks{"verify", "setup", "handle", "finish"})) << mode;
    }
}

TEST(RequestLifecycle, ProcessInitRunsInTheHostAndInEachForkedChild) {
    HostUnderTest host(probe({}, "forking"), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string child = stream_exchange(host.listening()[0], "pid\n");
    ASSERT_FALSE(child.empty());
    EXPECT_TRUE(host.wait_for_log("probe process_init in pid " + std::to_string(host.worker_pid()) + "\n"))
        << host.log();
    EXPECT_TRUE(host.wait_for_log("probe process_init in pid " + child)) << "the child ran it too: " << host.log();
}

TEST(RequestLifecycle, FinishRunsAfterAFailedHandleAndTheErrorNamesThePeer) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(probe({{"fail_handle", true}}, mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "echo x\n");
        EXPECT_EQ(read_until_eof(client.get()), "") << "the request is closed";
        ASSERT_TRUE(host.wait_for_log("hook finish")) << host.log();
        EXPECT_EQ(hooks_logged(host.log()), (Hooks{"verify", "setup", "handle", "finish"}));
        EXPECT_TRUE(std::regex_search(host.log(), std::regex("error: probe: handle failed for 127\\.0\\.0\\.1:\\d+: "
                                                             "deliberate handle failure")))
            << host.log();
    }
}

TEST(RequestLifecycle, NoFinishAfterAFailedSetup) {
    for (const char *mode : {"sync", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(probe({{"fail_setup", true}}, mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo x\n"), "");
        ASSERT_TRUE(host.wait_for_log("setup failed")) << host.log();
        EXPECT_EQ(hooks_logged(host.log()), (Hooks{"verify", "setup"}));
        EXPECT_NE(host.log().find("deliberate setup failure"), std::string::npos) << host.log();
    }
}

TEST(RequestLifecycle, HandlerErrorsNeverStopTheServer) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        HostUnderTest host(probe({}, mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        const auto &address = host.listening()[0];
        EXPECT_EQ(stream_exchange(address, "no-such-command\n"), "");
        EXPECT_EQ(stream_exchange(address, "echo still serving\n"), "still serving\n") << mode;
        EXPECT_NE(host.log().find("unknown command 'no-such-command'"), std::string::npos) << host.log();
    }
}

TEST(RequestLifecycle, AForkedChildThatCrashesIsLoggedAndServingContinues) {
    HostUnderTest host(probe({}, "forking"), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "crash\n"), "");
    EXPECT_TRUE(host.wait_for_log("killed by signal 6")) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo after\n"), "after\n");
}

TEST(RequestLifecycle, HostSurvivesAnExceptionThrownAcrossTheCAbi) {
    for (const char *mode : {"sync", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host({{"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "bad_throws_across_abi"}, {"mode", mode}}}}},
                           {test_plugin("bad_throws_across_abi")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "throw\n"), "");
        EXPECT_TRUE(host.wait_for_log("hook threw an exception across the C ABI")) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "fine\n"), "ok\n");
    }
}

TEST(RequestLifecycle, VerifyRefusalClosesWithoutOtherHooks) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(probe({{"refuse", true}}, mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo x\n"), "");
        ASSERT_TRUE(host.wait_for_log("by the plugin's verify")) << host.log();
        EXPECT_EQ(hooks_logged(host.log()), (Hooks{"verify"}));
    }
}

// socketserver's shutdown_request: a refused connection whose request had already arrived
// ends with an orderly close the client reads as end of input, not with a reset.
TEST(RequestLifecycle, VerifyRefusalIsAnOrderlyCloseWithTheRequestAlreadySent) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(probe({{"refuse", true}}, mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        for (int attempt = 0; attempt < 5; ++attempt) {
            UniqueFd client = connect_tcp_from(host.listening()[0], "127.0.0.1");
            send_all(client.get(), "echo x\n");
            ASSERT_TRUE(wait_readable(client.get(), std::chrono::steady_clock::now() + std::chrono::seconds(10)));
            char byte = 0;
            const ssize_t count = ::recv(client.get(), &byte, 1, 0);
            const int error = errno;
            EXPECT_EQ(count, 0) << "attempt " << attempt << ": " << (count < 0 ? std::strerror(error) : "data");
        }
    }
}

TEST(AccessLists, DeniedPeerNeverReachesThePluginAndIsClosedOnce) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        auto config = probe({}, mode);
        config["listeners"][0]["allow"] = {"127.0.0.2"};
        HostUnderTest host(config, {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd refused = connect_tcp_from(host.listening()[0], "127.0.0.1");
        send_all(refused.get(), "echo x\n");
        EXPECT_EQ(read_until_eof(refused.get()), "");
        ASSERT_TRUE(host.wait_for_log("by the allow/deny lists")) << host.log();
        EXPECT_TRUE(hooks_logged(host.log()).empty()) << "not even verify ran: " << host.log();

        UniqueFd allowed = connect_tcp_from(host.listening()[0], "127.0.0.2");
        send_all(allowed.get(), "echo welcome\n");
        ::shutdown(allowed.get(), SHUT_WR);
        EXPECT_EQ(read_until_eof(allowed.get()), "welcome\n");
        const std::string log = host.log();
        EXPECT_EQ(count_of(log, "refused 127.0.0.1:"), 1) << log;
    }
}

TEST(AccessLists, DenyAppliesToDatagrams) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        nlohmann::json config = {{"listeners",
                                  {{{"listen", "udp://127.0.0.1:0"}, {"plugin", "echo"}, {"mode", mode}, {"deny", {"127.0.0.0/8"}}}}}};
        HostUnderTest host(config, {bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient client(host.listening()[0]);
        client.send("knock");
        ASSERT_TRUE(host.wait_for_log("by the allow/deny lists")) << host.log();
        EXPECT_FALSE(client.receive(std::chrono::milliseconds(200))) << "a refused datagram gets no reply";
    }
}

}  // namespace
}  // namespace sockhost::test
