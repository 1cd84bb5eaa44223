// ABI 1.4 over the real binary, with the request_context probe (tests/plugins): the kind
// of a failed read as the plugin sees it, user data released once per request in every
// mode, and what an instance is told of where it runs, across a reload too.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json context_probe_on(const char *mode, nlohmann::json plugin_config = nlohmann::json::object()) {
    return {{"listeners",
             {{{"listen", "tcp://127.0.0.1:0"},
               {"name", "ctx"},
               {"plugin", "request_context_probe"},
               {"mode", mode},
               {"timeout", 0.3},
               {"config", std::move(plugin_config)}}}}};
}

int occurrences(const std::string &log, const std::string &text) {
    int count = 0;
    for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) ++count;
    return count;
}

// Waits until `text` is in the log `count` times; false on timeout.
bool logged_times(const HostUnderTest &host, const std::string &text, int count) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (occurrences(host.log(), text) >= count) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

TEST(RequestContext, APluginTellsALineTooLongFromATimeoutAndAReset) {
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(context_probe_on(mode, {{"max_line", 16}}), {test_plugin("request_context_probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "hi\n" + std::string(100, 'x') + "\nping\n");
        EXPECT_EQ(read_line(client.get()), "line=hi\n");
        EXPECT_EQ(read_line(client.get()), "error kind=line_too_long\n");
        EXPECT_EQ(read_line(client.get()), "line=ping\n") << "the conversation goes on after the long line";
        // Then idle past `timeout`: the plugin ends quietly, and the host closes.
        EXPECT_EQ(read_until_eof(client.get()), "");
        EXPECT_TRUE(host.wait_for_log("request_context: ended: kind=timeout")) << host.log();

        UniqueFd resetting = connect_stream(host.listening()[0]);
        send_all(resetting.get(), "half a li");
        std::this_thread::sleep_for(50ms);  // the plugin waits for the rest of the line
        const linger reset_on_close{1, 0};
        ASSERT_EQ(::setsockopt(resetting.get(), SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close), 0);
        resetting.reset();  // RST
        EXPECT_TRUE(host.wait_for_log("request_context: ended: kind=peer_gone")) << host.log();
        EXPECT_EQ(host.log().find(" error: "), std::string::npos) << host.log();
    }
}

// Each request's Trail is released once, after finish; under forking the worker releases
// its copy of what verify attached, and the child the rest.
TEST(RequestContext, UserDataIsReleasedOnceAtTheEndOfEachRequestInEveryMode) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(context_probe_on(mode), {test_plugin("request_context_probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        for (int request = 0; request < 3; ++request)
            EXPECT_EQ(stream_exchange(host.listening()[0], "one\nquit\n"), "line=one\n");
        EXPECT_EQ(stream_exchange(host.listening()[0], "replace\nquit\n"), "replaced\n");
        const std::string whole = "request_context: released user data after verify,setup,handle,finish";
        ASSERT_TRUE(logged_times(host, whole, 3)) << host.log();
        ASSERT_TRUE(logged_times(host, "released user data after replacement,finish", 1)) << host.log();
        EXPECT_EQ(occurrences(host.log(), "released user data after verify,setup,handle (replaced)"), 1) << host.log();
        host.stop(SIGTERM);
        EXPECT_EQ(occurrences(host.log(), whole), 3) << host.log();
        const int worker_copies = occurrences(host.log(), "released user data after verify\n");
        EXPECT_EQ(worker_copies, std::string(mode) == "forking" ? 4 : 0) << host.log();
    }
}

TEST(RequestContext, AnInstanceIsToldItsListenerModeWorkerAndGeneration) {
    auto config = context_probe_on("threading");
    config["workers"] = 2;
    HostUnderTest host(config, {test_plugin("request_context_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string address = host.listening()[0];
    ASSERT_TRUE(host.wait_for_log("request_context: instance of generation 1 worker 1 for " + address +
                                  " in threading mode"))
        << host.log();
    ASSERT_TRUE(host.wait_for_log("request_context: instance of generation 1 worker 2 for " + address +
                                  " in threading mode"))
        << host.log();
    const std::string answer = stream_exchange(address, "info\n");
    EXPECT_TRUE(answer == "mode=threading generation=1 worker=1 listener=ctx address=" + address + "\n" ||
                answer == "mode=threading generation=1 worker=2 listener=ctx address=" + address + "\n")
        << answer;

    ::kill(host.pid(), SIGHUP);
    ASSERT_TRUE(host.wait_for_log("request_context: instance of generation 2 worker 2 for " + address))
        << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited")) << host.log();
    EXPECT_EQ(stream_exchange(address, "info\n").rfind("mode=threading generation=2 worker=", 0), 0u);
}

TEST(RequestContext, APluginThatRefusesTheModeFailsTheStartAndTheCheckNamingWhy) {
    const auto failure = run_expecting_exit(context_probe_on("forking", {{"refuse_mode", "forking"}}),
                                            {test_plugin("request_context_probe")});
    EXPECT_NE(failure.exit_code, 0);
    EXPECT_NE(failure.log.find("rejected its config: refusing the forking mode: this plugin keeps state across "
                               "requests"),
              std::string::npos)
        << failure.log;
    HostUnderTest threading(context_probe_on("threading", {{"refuse_mode", "forking"}}),
                            {test_plugin("request_context_probe")});
    ASSERT_TRUE(threading.ready()) << threading.log();
    EXPECT_EQ(run_sockhost_command("--check -c " + threading.config_path().string()).exit_code, 0);

    // --check creates each instance too, told the mode (and generation 0, worker 0).
    auto forking = nlohmann::json::parse(std::ifstream(threading.config_path()));
    forking["listeners"][0]["mode"] = "forking";
    const auto forking_path = threading.dir() / "forking.json";
    std::ofstream(forking_path) << forking.dump();
    const auto check = run_sockhost_command("--check -c " + forking_path.string());
    EXPECT_EQ(check.exit_code, 2) << check.output;
    EXPECT_NE(check.output.find("refusing the forking mode"), std::string::npos) << check.output;
}

}  // namespace
}  // namespace sockhost::test
