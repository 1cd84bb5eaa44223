// Clients that send their requests slowly, a byte at a time (slowloris): each byte restarts
// the per-wait `timeout`, so only a deadline on the whole request (the host's
// `request_deadline`, the http plugin's `header_timeout`) frees what such a client holds.
#include "clients.hpp"
#include "host_under_test.hpp"
#include "trickling_clients.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

namespace sockhost::test {
namespace {

nlohmann::json one_listener(const char *plugin, const char *mode, nlohmann::json options = nlohmann::json::object()) {
    nlohmann::json listener = {{"listen", "tcp://127.0.0.1:0"}, {"plugin", plugin}, {"mode", mode}};
    listener.update(options);
    return {{"listeners", {listener}}};
}

// Waits (at most `patience`) until `condition` holds.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds patience) {
    const auto until = std::chrono::steady_clock::now() + patience;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

TEST(RequestDeadline, EndsARequestThatTricklesInEveryMode) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        // Each byte comes well within `timeout`; only the deadline can end the request.
        HostUnderTest host(one_listener("probe", mode, {{"timeout", 5}, {"request_deadline", 1}}),
                           {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        TricklingClients trickler(host.listening()[0], 1, "echo ", 100ms);
        EXPECT_TRUE(eventually([&] { return trickler.closed() == 1; }, 8s)) << host.log();
        EXPECT_TRUE(host.wait_for_log("read timed out: the request took longer than its request_deadline of 1000 ms"))
            << host.log();
        // The listener serves on.
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo after\n"), "after\n");
    }
}

// A client reading its answer slowly holds the request's writes as a trickled request
// holds its reads: the deadline bounds the writes too.
TEST(RequestDeadline, EndsAnAnswerReadSlowly) {
    HostUnderTest host(one_listener("probe", "event", {{"timeout", 5}, {"request_deadline", 1}}),
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "big 100000000\n");
    std::size_t received = 0;
    char buffer[4096];
    for (int round = 0; round < 60; ++round) {  // 3 s at 80 KB/s
        const ssize_t count = ::recv(client.get(), buffer, sizeof buffer, 0);
        if (count <= 0) break;
        received += static_cast<std::size_t>(count);
        std::this_thread::sleep_for(50ms);
    }
    // Then at full speed: what the kernel buffers still holds, then the host's close.
    received += read_until_eof(client.get(), 10s).size();
    EXPECT_LT(received, 100000000u) << "the answer was cut short";
    EXPECT_TRUE(host.wait_for_log("write timed out: the request took longer than its request_deadline of 1000 ms"))
        << host.log();
}

TEST(RequestDeadline, CountsEachRequestOfAConnectionNotTheConnection) {
    HostUnderTest host(one_listener("probe", "threading", {{"request_deadline", 1}}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    // Three seconds of quick requests on one connection: each ends with between_requests().
    for (int round = 0; round < 10; ++round) {
        send_all(client.get(), "echo " + std::to_string(round) + "\n");
        EXPECT_EQ(read_line(client.get()), std::to_string(round) + "\n");
        std::this_thread::sleep_for(300ms);
    }
}

// Between requests a keep-alive connection has no request: its idle wait is bounded by
// `timeout` alone, and the next request's deadline starts with its first byte.
TEST(RequestDeadline, IdleWaitBetweenRequestsIsBoundedByTheTimeoutAlone) {
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(one_listener("probe", mode, {{"request_deadline", 1}, {"timeout", 10}}), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "echo first\n");
        EXPECT_EQ(read_line(client.get()), "first\n");
        std::this_thread::sleep_for(2500ms);
        send_all(client.get(), "echo after a pause\n");
        EXPECT_EQ(read_line(client.get()), "after a pause\n") << host.log();
    }
}

TEST(HttpHeaderTimeout, PartOfAHeadGets408AndNothingGetsAQuietClose) {
    HostUnderTest host(one_listener("http", "threading", {{"config", {{"header_timeout", 1}}}}),
                       {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    TricklingClients trickler(host.listening()[0], 1, "GET / HTTP/1.1\r\nX-Slow: ", 100ms);
    UniqueFd silent = connect_stream(host.listening()[0]);
    EXPECT_TRUE(eventually([&] { return trickler.closed() == 1; }, 8s)) << host.log();
    const auto replies = trickler.replies_of_closed();
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_TRUE(replies[0].starts_with("HTTP/1.1 408 Request Timeout\r\n")) << replies[0];
    EXPECT_NE(replies[0].find("Connection: close\r\n"), std::string::npos) << replies[0];
    EXPECT_EQ(read_until_eof(silent.get()), "") << "a client that sent nothing is closed without a reply";
}

// The defaults: max_threads 256, header_timeout 10 s. 300 slow clients hold every thread
// and wait in the backlog; a normal client is answered once header_timeout frees the threads.
TEST(HttpHeaderTimeout, NormalClientIsAnsweredWhile300ConnectionsTrickleAtDefaults) {
    HostUnderTest host(one_listener("http", "threading"), {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    TricklingClients tricklers(host.listening()[0], 300, "GET / HTTP/1.1\r\nX-Slow: ", 1s);
    const pid_t worker = host.worker_pid();
    ASSERT_TRUE(eventually([&] { return thread_count(worker) >= 256; }, 20s))
        << "every request thread is taken: " << thread_count(worker);
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string answer = read_until_eof(client.get(), 20s);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << "answer: '" << answer << "'";
    EXPECT_TRUE(eventually([&] { return tricklers.closed() >= 256; }, 10s)) << tricklers.closed();
    for (const std::string &reply : tricklers.replies_of_closed())
        EXPECT_TRUE(reply.starts_with("HTTP/1.1 408 ")) << reply;
}

}  // namespace
}  // namespace sockhost::test
