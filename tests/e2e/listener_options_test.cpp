// Listener options with socketserver's meaning, observed from outside the host.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <thread>

namespace sockhost::test {
namespace {

nlohmann::json echo_on(const std::string &listen, const nlohmann::json &options = nlohmann::json::object()) {
    nlohmann::json listener = {{"listen", listen}, {"plugin", "echo"}};
    listener.update(options);
    return {{"listeners", {listener}}};
}

// The backlog of the TCP listener on `port`, as `ss` reports it (its Send-Q column).
int listen_backlog(std::uint16_t port) {
    const std::string command = "ss -ltnH 'sport = :" + std::to_string(port) + "'";
    FILE *pipe = ::popen(command.c_str(), "r");
    std::array<char, 512> line{};
    const bool read = std::fgets(line.data(), line.size(), pipe) != nullptr;
    ::pclose(pipe);
    if (!read) return -1;
    std::istringstream columns(line.data());
    std::string state;
    int receive_queue = 0, send_queue = -1;
    columns >> state >> receive_queue >> send_queue;
    return send_queue;
}

TEST(ListenerOptions, RequestQueueSizeIsTheListenBacklog) {
    HostUnderTest host(echo_on("tcp://127.0.0.1:0", {{"request_queue_size", 7}}), {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(listen_backlog(host.port(0)), 7);
    HostUnderTest defaults(echo_on("tcp://127.0.0.1:0"), {bundled_plugin("echo")});
    ASSERT_TRUE(defaults.ready()) << defaults.log();
    EXPECT_EQ(listen_backlog(defaults.port(0)), 128);
}

TEST(ListenerOptions, ReusePortLetsTwoHostsShareAPort) {
    HostUnderTest first(echo_on("tcp://127.0.0.1:0", {{"reuse_port", true}}), {bundled_plugin("echo")});
    ASSERT_TRUE(first.ready()) << first.log();
    const std::string shared = first.listening()[0];
    HostUnderTest second(echo_on(shared, {{"reuse_port", true}}), {bundled_plugin("echo")});
    EXPECT_TRUE(second.ready()) << second.log();
    const auto refused = run_expecting_exit(echo_on(shared), {bundled_plugin("echo")});
    EXPECT_EQ(refused.exit_code, 2) << "without reuse_port the port is taken: " << refused.log;
}

// Connections in TIME_WAIT whose local port is `port`, as `ss` lists them.
int time_wait_count(std::uint16_t port) {
    const std::string command = "ss -tanH state time-wait 'sport = :" + std::to_string(port) + "'";
    FILE *pipe = ::popen(command.c_str(), "r");
    std::array<char, 512> line{};
    int count = 0;
    while (std::fgets(line.data(), line.size(), pipe) != nullptr) ++count;
    ::pclose(pipe);
    return count;
}

// Serves one connection and stops; the host closes first, so once the client has closed
// too, the host's side of the connection is in TIME_WAIT on the listening port. The test
// waits for exactly that state (the client's FIN may still be on its way when the host has
// exited, and only a worker, not the supervisor, ever held the connection).
std::string serve_one_and_stop(const std::string &listen, bool reuse_address) {
    HostUnderTest host(echo_on(listen, {{"reuse_address", reuse_address}}), {bundled_plugin("echo")});
    EXPECT_TRUE(host.ready()) << host.log();
    {
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "x");
        EXPECT_EQ(read_exactly(client.get(), 1), "x");
        EXPECT_EQ(host.stop(SIGTERM), 0);  // stopping closes the idle connection from the host's side
        EXPECT_EQ(read_until_eof(client.get()), "");
    }
    const auto port = host.port(0);
    for (int wait = 0; wait < 1000 && time_wait_count(port) == 0; ++wait)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GE(time_wait_count(port), 1) << "the host's side of the connection is in TIME_WAIT on port " << port;
    return host.listening()[0];
}

TEST(ListenerOptions, ReuseAddressRebindsOverTimeWait) {
    const std::string address = serve_one_and_stop("tcp://127.0.0.1:0", true);
    HostUnderTest again(echo_on(address), {bundled_plugin("echo")});
    EXPECT_TRUE(again.ready()) << "reuse_address (the default) binds despite TIME_WAIT: " << again.log();
}

TEST(ListenerOptions, WithoutReuseAddressTimeWaitHoldsThePort) {
    // The first host binds with reuse_address (the default): a port picked by the kernel
    // without it must be free of every TIME_WAIT on the machine, and another program's
    // closed connections can use up the ephemeral range. What is tested is the second bind.
    const std::string address = serve_one_and_stop("tcp://127.0.0.1:0", true);
    const auto failure = run_expecting_exit(echo_on(address, {{"reuse_address", false}}), {bundled_plugin("echo")});
    EXPECT_EQ(failure.exit_code, 2);
    EXPECT_NE(failure.log.find("address in use"), std::string::npos) << failure.log;
}

TEST(ListenerOptions, BlockOnCloseFalseCancelsInFlightRequestsAtStop) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        nlohmann::json config = {{"drain_timeout", 600},
                                 {"listeners",
                                  {{{"listen", "tcp://127.0.0.1:0"},
                                    {"plugin", "probe"},
                                    {"mode", mode},
                                    {"block_on_close", false},
                                    {"config", {{"log_hooks", true}}}}}}};
        HostUnderTest host(config, {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "sleep 600000\n");
        ASSERT_TRUE(host.wait_for_log(" sleeping ")) << host.log();
        EXPECT_EQ(host.stop(SIGTERM), 0) << mode << ": did not wait for the request despite a long drain_timeout";
        EXPECT_EQ(read_until_eof(client.get()), "") << mode;
        // Cancelled in its sleep, or (when the stop comes first) in the read of its command.
        EXPECT_NE(host.log().find(" cancelled: the server is stopping"), std::string::npos) << host.log();
    }
}

}  // namespace
}  // namespace sockhost::test
