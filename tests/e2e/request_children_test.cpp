// A forking listener's request children never outlive the host: not a worker killed by
// SIGKILL, not a supervisor killed by SIGKILL, not a stop whose drain deadline they pass.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <vector>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

// Kills a process the host left behind, so a failing test leaves nothing running.
class KilledAtEnd {
public:
    explicit KilledAtEnd(pid_t pid) : pid_(pid) {}
    ~KilledAtEnd() {
        if (pid_ > 0 && process_alive(pid_)) ::kill(pid_, SIGKILL);
    }
    KilledAtEnd(const KilledAtEnd &) = delete;
    KilledAtEnd &operator=(const KilledAtEnd &) = delete;

private:
    pid_t pid_;
};

nlohmann::json forking_probe(double drain_timeout_seconds = 60) {
    auto config = probe_on("forking");
    config["drain_timeout"] = drain_timeout_seconds;
    return config;
}

TEST(RequestChildren, DieWithAWorkerKilledBySigkill) {
    HostUnderTest host(forking_probe(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const pid_t worker = host.worker_pid();
    const auto request = hanging_probe_request(host.listening()[0]);
    const KilledAtEnd cleanup(request.pid);
    ASSERT_NE(request.pid, worker) << "the request runs in a child of its own";
    ASSERT_TRUE(process_alive(request.pid));

    ASSERT_EQ(::kill(worker, SIGKILL), 0);
    EXPECT_TRUE(ended_within(request.pid)) << "request child " << request.pid << " outlived its worker";
}

TEST(RequestChildren, DieWithASupervisorKilledBySigkill) {
    HostUnderTest host(forking_probe(), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const pid_t worker = host.worker_pid();
    const KilledAtEnd worker_cleanup(worker);
    const auto request = hanging_probe_request(host.listening()[0]);
    const KilledAtEnd cleanup(request.pid);
    ASSERT_TRUE(process_alive(request.pid));

    EXPECT_EQ(host.stop(SIGKILL), 128 + SIGKILL);
    EXPECT_TRUE(ended_within(worker)) << "worker " << worker << " outlived its supervisor";
    EXPECT_TRUE(ended_within(request.pid)) << "request child " << request.pid << " outlived the supervisor";
}

// A child that ignores SIGTERM and never ends by itself: at the drain deadline the worker
// kills it and reaps it before the worker exits, so it is gone once the host has exited.
TEST(RequestChildren, PastTheDrainDeadlineAreKilledBeforeTheHostExits) {
    HostUnderTest host(forking_probe(0.2), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto request = hanging_probe_request(host.listening()[0], "ignoring-sigterm");
    const KilledAtEnd cleanup(request.pid);

    host.stop(SIGTERM);
    EXPECT_FALSE(process_alive(request.pid)) << "request child " << request.pid << " outlived the stop\n" << host.log();
}

// The worker itself is stuck past its deadline (a sync request that never ends holds its
// loop), so the supervisor kills it with SIGKILL: its forking listener's child dies too.
TEST(RequestChildren, DieWithAWorkerKilledForPassingTheStopDeadline) {
    nlohmann::json config = forking_probe(0.2);
    config["listeners"].push_back({{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}, {"mode", "sync"}});
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto child = hanging_probe_request(host.listening()[0], "ignoring-sigterm");
    const KilledAtEnd cleanup(child.pid);
    const auto stuck = hanging_probe_request(host.listening()[1]);
    ASSERT_EQ(stuck.pid, host.worker_pid());

    host.stop(SIGTERM);
    ASSERT_NE(host.log().find("workers still running past the stop deadline; killing them"), std::string::npos)
        << host.log();
    EXPECT_TRUE(ended_within(child.pid)) << "request child " << child.pid << " outlived its killed worker";
}

// A fork copies every descriptor: a request child of one listener must not hold the
// connections another listener of the same worker is serving (a connection would stay
// open, unreset and uncounted, for as long as that child lives).
TEST(RequestChildren, HoldNoConnectionOfAnotherListener) {
    auto config = forking_probe(1);
    config["listeners"].push_back({{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}, {"mode", "threading"}});
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<UniqueFd> others;
    for (int index = 0; index < 3; ++index) {
        others.push_back(connect_stream(host.listening()[1]));
        send_all(others.back().get(), "pid\n");
        ASSERT_FALSE(read_line(others.back().get()).empty()) << host.log();
    }
    UniqueFd forked = connect_stream(host.listening()[0]);
    send_all(forked.get(), "sleep 20000\n");
    ASSERT_TRUE(host.wait_for_log("sleeping 20000 ms", 10s)) << host.log();
    const auto children = child_pids(host.worker_pid());
    ASSERT_EQ(children.size(), 1u) << host.log();
    const KilledAtEnd child_guard(children[0]);
    const auto listeners = sockets_but_handoff_channels(host.pid());
    std::size_t connections = 0;
    for (const auto &socket : sockets_but_handoff_channels(children[0])) connections += listeners.contains(socket) ? 0 : 1;
    EXPECT_EQ(connections, 1u) << "the child holds connections of the threading listener";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();  // the sleep is cancelled at the 1 s deadline
}

}  // namespace
}  // namespace sockhost::test
