// A host that begins to stop (SIGTERM, or an old generation after a reload) tells the
// keep-alive clients it is still serving: their next response carries "Connection: close"
// and the connection ends after it, as nginx does while exiting. A client then never sends
// a request into a connection that the host closes at the next request boundary.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace sockhost::test {
namespace {

constexpr const char *kGet = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
constexpr const char *kBody = "hello\n";

// One HTTP response: its head (with the blank line) and its Content-Length body.
std::string read_response(int fd) {
    std::string response;
    while (!response.ends_with("\r\n\r\n")) {
        const std::string byte = read_exactly(fd, 1);
        if (byte.empty()) return response;  // end of input, or nothing within the timeout
        response += byte;
    }
    const std::size_t field = response.find("Content-Length: ");
    if (field == std::string::npos) return response;
    return response + read_exactly(fd, std::stoul(response.substr(field + 16)));
}

// True when the peer ends the connection (end of input, nothing more before it) within
// the timeout; false on more bytes or no end in time.
bool ends_with_nothing_more(int fd, std::chrono::milliseconds timeout = 10s) {
    pollfd watched{fd, POLLIN, 0};
    if (::poll(&watched, 1, static_cast<int>(timeout.count())) != 1) return false;
    char byte = 0;
    return ::recv(fd, &byte, 1, 0) == 0;
}

// An http listener in the mode under test; each test stops it with SIGTERM.
class StoppingHost : public ::testing::TestWithParam<const char *> {
protected:
    void SetUp() override {
        const nlohmann::json config = {{"drain_timeout", 60},
                                       {"listeners",
                                        {{{"listen", "tcp://127.0.0.1:0"},
                                          {"plugin", "http"},
                                          {"mode", GetParam()},
                                          {"config", {{"body", kBody}}}}}}};
        host_ = std::make_unique<HostUnderTest>(config, std::vector{bundled_plugin("http")});
        ASSERT_TRUE(host_->ready()) << host_->log();
    }

    // A connection with one request answered, kept alive.
    UniqueFd kept_alive_connection() {
        UniqueFd connection = connect_stream(host_->listening()[0]);
        send_all(connection.get(), kGet);
        const std::string first = read_response(connection.get());
        EXPECT_TRUE(first.starts_with("HTTP/1.1 200 OK\r\n")) << first;
        EXPECT_EQ(first.find("Connection:"), std::string::npos) << first;
        EXPECT_TRUE(first.ends_with(kBody)) << first;
        return connection;
    }

    std::unique_ptr<HostUnderTest> host_;
};

TEST_P(StoppingHost, AnswersTheRequestInFlightWithConnectionCloseThenEnds) {
    // A keep-alive client: its first response keeps the connection.
    UniqueFd client = kept_alive_connection();
    // An idle keep-alive connection, which the host ends when it starts to stop: its end
    // shows the stop has reached the listener.
    UniqueFd idle = kept_alive_connection();
    // A slow request on another connection (its head unfinished): the host drains for it.
    // A first request shows the connection is accepted (not still in the backlog, which
    // the stop would leave unserved).
    UniqueFd slow = kept_alive_connection();
    send_all(slow.get(), "GET /slow HTTP/1.1\r\n");

    // The client has sent part of its next request when the stop comes.
    send_all(client.get(), "GET /next HTTP/1.1\r\n");
    ASSERT_EQ(::kill(host_->pid(), SIGTERM), 0);
    ASSERT_TRUE(host_->wait_for_log("SIGTERM: stopping gracefully")) << host_->log();
    EXPECT_TRUE(ends_with_nothing_more(idle.get())) << "the idle connection was not ended at the stop";

    // Its request is answered, not dropped, and the answer says the connection ends.
    send_all(client.get(), "Host: example\r\n\r\n");
    const std::string after_stop = read_response(client.get());
    EXPECT_TRUE(after_stop.starts_with("HTTP/1.1 200 OK\r\n")) << after_stop;
    EXPECT_NE(after_stop.find("\r\nConnection: close\r\n"), std::string::npos) << after_stop;
    EXPECT_TRUE(after_stop.ends_with(kBody)) << after_stop;
    EXPECT_TRUE(ends_with_nothing_more(client.get())) << "the connection stayed open after Connection: close";

    // The slow request too; then nothing is in flight and the host exits without waiting
    // for its drain deadline.
    send_all(slow.get(), "Host: example\r\n\r\n");
    const std::string slow_answer = read_response(slow.get());
    EXPECT_NE(slow_answer.find("\r\nConnection: close\r\n"), std::string::npos) << slow_answer;
    EXPECT_TRUE(ends_with_nothing_more(slow.get()));
    EXPECT_EQ(host_->wait_exit(), 0) << host_->log();
}

// A closed-loop keep-alive client sends its next request as soon as it has its answer, so
// a stop can cross a request on its way to a connection the host sees idle. The host keeps
// such a connection open for a short grace: the request is answered, with Connection: close.
TEST_P(StoppingHost, AnswersARequestThatCrossesTheStopOnAnIdleConnection) {
    // Idle between requests when the stop comes.
    UniqueFd idle = kept_alive_connection();
    // Mid-request when the stop comes: its answer saying Connection: close shows that the
    // worker has seen the stop, so the idle connection has seen it too.
    UniqueFd witness = kept_alive_connection();
    send_all(witness.get(), "GET /next HTTP/1.1\r\n");

    ASSERT_EQ(::kill(host_->pid(), SIGTERM), 0);
    ASSERT_TRUE(host_->wait_for_log("SIGTERM: stopping gracefully")) << host_->log();
    send_all(witness.get(), "Host: example\r\n\r\n");
    const std::string witness_answer = read_response(witness.get());
    ASSERT_NE(witness_answer.find("\r\nConnection: close\r\n"), std::string::npos) << witness_answer;

    // The idle connection's next request, sent right after the stop reached the worker.
    send_all(idle.get(), kGet);
    const std::string answer = read_response(idle.get());
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << "the request was dropped: '" << answer << "'";
    EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos) << answer;
    EXPECT_TRUE(ends_with_nothing_more(idle.get())) << "the connection stayed open after Connection: close";
    EXPECT_EQ(host_->wait_exit(), 0) << host_->log();
}

INSTANTIATE_TEST_SUITE_P(Modes, StoppingHost, ::testing::Values("threading", "forking", "event"),
                         [](const auto &mode) { return std::string(mode.param); });

// Whether `pid` has blocked the stop signals itself: from then on SIGTERM waits for the
// supervisor's loop (before, in the first instants of exec, it would take its default
// action). SIGUSR1 is never blocked by the host: a mask holding it is a runtime's own
// (a sanitizer's, while it starts), which it lifts again.
bool blocks_sigterm(pid_t pid) {
    const auto bit = [](int signal_number) { return 1ULL << (signal_number - 1); };
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with("SigBlk:")) {
            const auto mask = std::stoull(line.substr(7), nullptr, 16);
            return (mask & bit(SIGTERM)) != 0 && (mask & bit(SIGUSR1)) == 0;
        }
    return false;
}

// SIGTERM while the supervisor is still starting its first generation, from the first
// milliseconds (before the worker exists, or while it loads) to while process_init still
// sleeps: a clean stop, exit 0, with nothing reported as failed.
TEST(StoppingHost, SigtermDuringStartUpIsACleanStop) {
    for (const int after_ms : {0, 2, 8, 14, 200}) {
        auto config = probe_on("threading");
        config["listeners"][0]["config"]["init_sleep_ms"] = 2000;
        Launch launch;
        launch.wait_until_ready = false;
        HostUnderTest host(config, {test_plugin("probe")}, launch);
        for (int tries = 0; tries < 2000 && !blocks_sigterm(host.pid()); ++tries)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
        EXPECT_EQ(host.stop(SIGTERM), 0) << "SIGTERM " << after_ms << " ms after start\n" << host.log();
        EXPECT_EQ(host.log().find("not started"), std::string::npos) << host.log();
        EXPECT_EQ(host.log().find("error:"), std::string::npos) << host.log();
        EXPECT_NE(host.log().find("info: stopped"), std::string::npos) << host.log();
    }
}

}  // namespace
}  // namespace sockhost::test
