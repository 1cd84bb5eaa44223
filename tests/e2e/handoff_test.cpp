// Reloads that no client notices (docs/operations.md, "Reloads"): idle connections move to
// the next generation with their unread bytes and their plugin's state, the plugin's own
// state is carried over, and whatever fails, no connection is lost and nothing leaks.
// The handoff_probe test plugin answers "pid" with the process serving the connection,
// so a test sees which generation answers; the old generation's exit proves the rest.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json handoff_listener(const std::string &mode, const std::string &listen,
                                const std::string &plugin = "handoff_probe") {
    return {{"listen", listen}, {"plugin", plugin}, {"mode", mode}};
}

nlohmann::json handoff_config(nlohmann::json listeners) {
    return {{"control_socket", "control.sock"}, {"drain_timeout", 20}, {"listeners", std::move(listeners)}};
}

CommandOutcome reload(const HostUnderTest &host) { return run_sockhost_command("reload -c " + host.config_path().string()); }

std::string ask(int fd, const std::string &command) {
    send_all(fd, command + "\n");
    std::string line = read_line(fd);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

// `pid` is one of `workers`, or (forking mode) a request child of one.
bool is_one_of(const std::string &pid, const std::vector<pid_t> &workers) {
    std::vector<pid_t> serving = workers;
    for (const pid_t worker : workers)
        for (const pid_t child : child_pids(worker)) serving.push_back(child);
    return std::any_of(serving.begin(), serving.end(), [&](pid_t candidate) { return std::to_string(candidate) == pid; });
}

struct ModeAndTransport {
    const char *mode;
    bool unix_socket;
};

class IdleConnections : public ::testing::TestWithParam<ModeAndTransport> {};

TEST_P(IdleConnections, LiveThroughSeveralReloadsAndAreAnsweredByTheNewGeneration) {
    const auto [mode, unix_socket] = GetParam();
    const std::string listen = unix_socket ? "unix:handoff.sock" : "tcp://127.0.0.1:0";
    HostUnderTest host(handoff_config({handoff_listener(mode, listen)}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    // A sync listener serves one connection at a time: the others would wait in its backlog.
    const int kConnections = std::string(mode) == "sync" ? 1 : 5;
    std::vector<UniqueFd> clients;
    for (int index = 0; index < kConnections; ++index) {
        clients.push_back(connect_stream(host.listening()[0]));
        ASSERT_EQ(ask(clients.back().get(), "remember client-" + std::to_string(index)), "OK");
    }
    for (int reloads = 1; reloads <= 3; ++reloads) {
        const auto outcome = reload(host);
        ASSERT_EQ(outcome.exit_code, 0) << outcome.output << host.log();
        const std::string exited = "generation " + std::to_string(reloads) + " has exited";
        ASSERT_TRUE(host.wait_for_log(exited, 20s)) << "the old generation let go of every connection\n" << host.log();
        const auto workers = host.worker_pids();
        for (int index = 0; index < kConnections; ++index) {
            SCOPED_TRACE("reload " + std::to_string(reloads) + ", client " + std::to_string(index));
            const std::string pid = ask(clients[index].get(), "pid");
            EXPECT_TRUE(is_one_of(pid, workers)) << "answered by '" << pid << "', not the new generation\n" << host.log();
            EXPECT_EQ(ask(clients[index].get(), "recall"), "client-" + std::to_string(index));
        }
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    for (auto &client : clients) EXPECT_EQ(read_until_eof(client.get()), "") << "closed at the stop, not before";
}

INSTANTIATE_TEST_SUITE_P(EveryMode, IdleConnections,
                         ::testing::Values(ModeAndTransport{"sync", false}, ModeAndTransport{"threading", false},
                                           ModeAndTransport{"threading", true}, ModeAndTransport{"forking", false},
                                           ModeAndTransport{"forking", true}, ModeAndTransport{"event", false},
                                           ModeAndTransport{"event", true}, ModeAndTransport{"sync", true}),
                         [](const ::testing::TestParamInfo<ModeAndTransport> &case_info) {
                             return std::string(case_info.param.mode) + (case_info.param.unix_socket ? "Unix" : "Tcp");
                         });

}  // namespace
}  // namespace sockhost::test
