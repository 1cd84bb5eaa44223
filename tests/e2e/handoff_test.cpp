// Reloads that no client notices (docs/operations.md, "Reloads"): idle connections move to
// the next generation with their unread bytes and their plugin's state, the plugin's own
// state is carried over, and whatever fails, no connection is lost and nothing leaks.
// The handoff_probe test plugin answers "pid" with the process serving the connection,
// so a test sees which generation answers; the old generation's exit proves the rest.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <fstream>
#include <thread>
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
    const int supervisor_fds = open_fd_count(host.pid());
    // A sync listener serves one connection at a time: the others would wait in its backlog.
    const int kConnections = std::string(mode) == "sync" ? 1 : 5;
    std::vector<UniqueFd> clients;
    for (int index = 0; index < kConnections; ++index) {
        clients.push_back(connect_stream(host.listening()[0]));
        ASSERT_EQ(ask(clients.back().get(), "remember client-" + std::to_string(index)), "OK");
    }
    const int worker_fds = open_fd_count(host.worker_pid());
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
        // Nothing left behind: the supervisor holds what it held, the new worker what the
        // old one held with the same connections.
        for (int wait = 0; wait < 200 && open_fd_count(host.pid()) != supervisor_fds; ++wait) std::this_thread::sleep_for(10ms);
        EXPECT_EQ(open_fd_count(host.pid()), supervisor_fds) << "supervisor, reload " << reloads;
        EXPECT_EQ(open_fd_count(host.worker_pid()), worker_fds) << "worker, reload " << reloads;
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


// Connections that say nothing after they moved are parked by the worker that took them
// (no request until their next byte) and move on at the next reload from its main thread,
// up to 64 to a packet: with their state, their socket untouched, nothing left behind.
class SilentConnections : public ::testing::TestWithParam<ModeAndTransport> {};

TEST_P(SilentConnections, MoveOnInBatchesThroughReloadsAndKeepTheirState) {
    const auto [mode, unix_socket] = GetParam();
    const std::string listen = unix_socket ? "unix:handoff.sock" : "tcp://127.0.0.1:0";
    auto listener = handoff_listener(mode, listen);
    if (std::string(mode) == "forking") listener["max_children"] = 100;
    HostUnderTest host(handoff_config({listener}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const int supervisor_fds = open_fd_count(host.pid());
    const int kConnections = std::string(mode) == "sync" ? 1 : 100;  // two batches, the second partly full
    std::vector<UniqueFd> clients;
    for (int index = 0; index < kConnections; ++index) {
        clients.push_back(connect_stream(host.listening()[0]));
        ASSERT_EQ(ask(clients.back().get(), "remember client-" + std::to_string(index)), "OK");
    }
    // Settled: a forking worker closes its copy of a connection just after its child forks,
    // which may be after the child answered.
    int worker_fds = open_fd_count(host.worker_pid());
    for (int wait = 0; wait < 40; ++wait) {
        std::this_thread::sleep_for(50ms);
        const int now = open_fd_count(host.worker_pid());
        if (now == worker_fds) break;
        worker_fds = now;
    }
    const std::string all = std::to_string(kConnections);
    for (int reloads = 1; reloads <= 3; ++reloads) {
        ASSERT_EQ(reload(host).exit_code, 0) << host.log();
        ASSERT_TRUE(host.wait_for_log("generation " + std::to_string(reloads) + " has exited", 20s)) << host.log();
    }
    // Generation 1's requests offered theirs; generations 2 and 3 held them parked.
    const std::string log = host.log();
    std::size_t batched = 0;
    for (auto at = log.find("handed " + all + " of " + all + " parked connection(s)"); at != std::string::npos;
         at = log.find("handed " + all + " of " + all + " parked connection(s)", at + 1))
        ++batched;
    EXPECT_EQ(batched, 2u) << log;
    const auto workers = host.worker_pids();
    for (int index = 0; index < kConnections; ++index) {
        SCOPED_TRACE("client " + std::to_string(index));
        const std::string pid = ask(clients[index].get(), "pid");
        EXPECT_TRUE(is_one_of(pid, workers)) << "answered by '" << pid << "', not generation 4\n" << host.log();
        EXPECT_EQ(ask(clients[index].get(), "recall"), "client-" + std::to_string(index));
    }
    for (int wait = 0; wait < 200 && open_fd_count(host.pid()) != supervisor_fds; ++wait) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(open_fd_count(host.pid()), supervisor_fds) << "supervisor";
    for (int wait = 0; wait < 200 && open_fd_count(host.worker_pid()) != worker_fds; ++wait) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(open_fd_count(host.worker_pid()), worker_fds) << "worker";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    for (auto &client : clients) EXPECT_EQ(read_until_eof(client.get()), "") << "closed at the stop, not before";
}

INSTANTIATE_TEST_SUITE_P(EveryMode, SilentConnections,
                         ::testing::Values(ModeAndTransport{"sync", false}, ModeAndTransport{"threading", false},
                                           ModeAndTransport{"forking", true}, ModeAndTransport{"event", false},
                                           ModeAndTransport{"event", true}),
                         [](const ::testing::TestParamInfo<ModeAndTransport> &case_info) {
                             return std::string(case_info.param.mode) + (case_info.param.unix_socket ? "Unix" : "Tcp");
                         });

// A parked connection is as idle as a request waiting for its next byte: the listener's
// `timeout` ends it in the worker that holds it, counted from the takeover.
TEST(Handoff, AParkedConnectionEndsAtTheListenersTimeout) {
    auto listener = handoff_listener("event", "tcp://127.0.0.1:0");
    listener["timeout"] = 1;
    HostUnderTest host(handoff_config({listener}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    ASSERT_FALSE(ask(client.get(), "pid").empty());
    const auto reloaded = std::chrono::steady_clock::now();
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    pollfd readable{client.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&readable, 1, 10000), 1) << "still open 10 s after the reload\n" << host.log();
    char byte = 0;
    EXPECT_EQ(::recv(client.get(), &byte, 1, 0), 0) << "end of input";
    EXPECT_GE(std::chrono::steady_clock::now() - reloaded, 900ms) << "not before its timeout";
    EXPECT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// A parked connection whose next generation does not take connections over (its listener
// turned handoff off) ends at that reload, as an idle connection without handoff does.
TEST(Handoff, AParkedConnectionEndsWhenTheNextGenerationTurnsHandoffOff) {
    auto config = handoff_config({handoff_listener("event", "tcp://127.0.0.1:0")});
    HostUnderTest host(config, {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    ASSERT_FALSE(ask(client.get(), "pid").empty());
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();  // parked in generation 2
    auto off = config;
    off["listeners"][0]["handoff"] = false;
    off["plugin_dir"] = host.plugin_dir().string();
    std::ofstream(host.config_path()) << off.dump();
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    EXPECT_EQ(read_until_eof(client.get()), "") << "closed by generation 2\n" << host.log();
    EXPECT_TRUE(host.wait_for_log("handed 0 of 1 parked connection(s)", 20s)) << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// What the host had received and the plugin had not read moves with the connection.
TEST(Handoff, BytesReceivedAndNotReadMoveWithTheConnection) {
    HostUnderTest host(handoff_config({handoff_listener("threading", "tcp://127.0.0.1:0")}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    const std::string old_pid = ask(client.get(), "pid");
    send_all(client.get(), "pi");  // half a request: read by the host, not by the plugin
    std::this_thread::sleep_for(100ms);
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();
    send_all(client.get(), "d\n");
    std::string pid = read_line(client.get());
    ASSERT_FALSE(pid.empty()) << host.log();
    pid.pop_back();
    EXPECT_NE(pid, old_pid);
    EXPECT_TRUE(is_one_of(pid, host.worker_pids())) << "the new generation read \"pi\" and then \"d\"";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// A plugin that does not opt in, or a listener with handoff off: idle connections end at a
// reload as they always did, and the new generation serves the clients that reconnect.
TEST(Handoff, WithoutTheOptInIdleConnectionsEndAtAReload) {
    auto off = handoff_listener("event", "tcp://127.0.0.1:0");
    off["handoff"] = false;
    HostUnderTest host(handoff_config({handoff_listener("event", "tcp://127.0.0.1:0", "handoff_probe_no_connections"), off}),
                       {test_plugin("handoff_probe_no_connections"), test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd not_opted_in = connect_stream(host.listening()[0]);
    UniqueFd turned_off = connect_stream(host.listening()[1]);
    ASSERT_EQ(ask(not_opted_in.get(), "stopping"), "no");
    ASSERT_EQ(ask(turned_off.get(), "stopping"), "no");
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    EXPECT_EQ(read_until_eof(not_opted_in.get()), "") << "closed by the old generation";
    EXPECT_EQ(read_until_eof(turned_off.get()), "") << "closed by the old generation";
    UniqueFd again = connect_stream(host.listening()[1]);
    EXPECT_TRUE(is_one_of(ask(again.get(), "pid"), host.worker_pids()));
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// stopping() tells the plugin to end the connection after this answer; for a connection
// that will move at a reload it stays false (an HTTP plugin keeps the connection alive).
TEST(Handoff, StoppingStaysFalseForAConnectionThatWillMove) {
    auto config = handoff_config({handoff_listener("threading", "tcp://127.0.0.1:0"),
                                  handoff_listener("threading", "tcp://127.0.0.1:0", "handoff_probe_no_connections")});
    HostUnderTest host(config, {test_plugin("handoff_probe"), test_plugin("handoff_probe_no_connections")});
    ASSERT_TRUE(host.ready()) << host.log();
    // Each request is in flight in the old generation when its drain begins, and asks then.
    UniqueFd moves = connect_stream(host.listening()[0]);
    UniqueFd stays = connect_stream(host.listening()[1]);
    send_all(moves.get(), "stopping-after 700\n");
    send_all(stays.get(), "stopping-after 700\n");
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    EXPECT_EQ(read_line(moves.get()), "no\n") << "it moves to the next generation";
    EXPECT_EQ(read_line(stays.get()), "yes\n") << "its old generation will close it";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// The plugin's own state (here a count of the commands served) is exported by the old
// instance and imported by the new before it is READY, reload after reload.
TEST(Handoff, PluginStateIsCarriedAcrossReloads) {
    for (const char *mode : {"threading", "event", "sync"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(handoff_config({handoff_listener(mode, "tcp://127.0.0.1:0")}), {test_plugin("handoff_probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "count\n"), "1\n");
        for (int reloads = 1; reloads <= 3; ++reloads) {
            ASSERT_EQ(reload(host).exit_code, 0) << host.log();
            EXPECT_EQ(stream_exchange(host.listening()[0], "count\n"), std::to_string(reloads + 1) + "\n");
        }
        EXPECT_NE(host.log().find("imported 2 bytes of state from the previous generation"), std::string::npos)
            << host.log();
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

// An import that fails fails the reload: the old generation keeps serving, with its state
// and its connections; nothing was handed over. A state past state_handoff_limit, or an
// export slower than state_handoff_timeout, fails it the same way.
TEST(Handoff, AFailedImportFailsTheReloadAndTheOldGenerationKeepsEverything) {
    struct Case {
        nlohmann::json plugin_config;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {{{"fail_import", true}}, "import_state refused the previous generation's state: deliberately refused"},
        {{{"state_bytes", 2 * 1024 * 1024}}, "more than state_handoff_limit (1 MiB)"},
        {{{"export_delay_ms", 1500}}, "did not export its state within state_handoff_timeout (500 ms)"},
    };
    for (const auto &failing : cases) {
        SCOPED_TRACE(failing.reason);
        auto config = handoff_config({handoff_listener("event", "tcp://127.0.0.1:0")});
        config["state_handoff_timeout"] = 0.5;
        config["state_handoff_limit"] = 1;
        HostUnderTest host(config, {test_plugin("handoff_probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        const std::string old_pid = ask(client.get(), "pid");
        ASSERT_EQ(ask(client.get(), "count"), "2");
        auto next = config;
        next["listeners"][0]["config"] = failing.plugin_config;
        next["plugin_dir"] = host.plugin_dir().string();
        std::ofstream(host.config_path()) << next.dump();
        auto outcome = reload(host);
        if (!failing.plugin_config.contains("fail_import")) {
            // state_bytes and export_delay_ms act on the exporting instance: it has them
            // after this reload, so the next one fails.
            ASSERT_EQ(outcome.exit_code, 0) << outcome.output << host.log();
            outcome = reload(host);
        }
        EXPECT_EQ(outcome.exit_code, 1) << outcome.output << host.log();
        EXPECT_NE(outcome.output.find(failing.reason), std::string::npos) << outcome.output;
        EXPECT_NE(host.log().find("keeps serving"), std::string::npos) << host.log();
        const std::string count = ask(client.get(), "count");
        EXPECT_FALSE(count.empty()) << "the connection is still served";
        EXPECT_GE(std::stoi(count.empty() ? "0" : count), 3) << "by an instance that kept the count";
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

// In forking mode each request child holds its own connection and none of those still
// queued in its parent when it was forked (their FIN would wait for it).
TEST(Handoff, ForkingChildrenHoldOnlyTheirOwnHandedOverConnection) {
    HostUnderTest host(handoff_config({handoff_listener("forking", "tcp://127.0.0.1:0")}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<UniqueFd> clients;
    for (int index = 0; index < 8; ++index) {
        clients.push_back(connect_stream(host.listening()[0]));
        ASSERT_FALSE(ask(clients.back().get(), "pid").empty());
    }
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << host.log();
    for (auto &client : clients) ASSERT_TRUE(is_one_of(ask(client.get(), "pid"), host.worker_pids())) << host.log();
    const auto listeners = sockets_but_handoff_channels(host.pid());
    const auto children = child_pids(host.worker_pid());
    ASSERT_EQ(children.size(), clients.size());
    for (const pid_t child : children) {
        std::size_t connections = 0;
        for (const auto &socket : sockets_but_handoff_channels(child)) connections += listeners.contains(socket) ? 0 : 1;
        EXPECT_EQ(connections, 1u) << "child " << child << " holds sockets of other connections";
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// The new generation's worker dies during the handoff: connections it had not taken stay
// with the old generation, which serves them meanwhile, and move to its replacement.
TEST(Handoff, ConnectionsNotYetTakenWhenTheNewWorkerDiesStayAndMoveToItsReplacement) {
    HostUnderTest host(handoff_config({handoff_listener("event", "tcp://127.0.0.1:0")}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<UniqueFd> clients;
    for (int index = 0; index < 4; ++index) clients.push_back(connect_stream(host.listening()[0]));
    const std::string old_pid = ask(clients[0].get(), "pid");
    // Busy when the drain begins: each becomes idle, and is offered, 0.6 s later: after the
    // kill below, before the replacement is ready (a worker that dies this soon after its
    // start is replaced after 1 s).
    for (auto &client : clients) send_all(client.get(), "stopping-after 600\n");
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    pid_t new_worker = -1;
    for (const pid_t worker : host.worker_pids())
        if (std::to_string(worker) != old_pid) new_worker = worker;
    ASSERT_GT(new_worker, 0) << host.log();
    ASSERT_EQ(::kill(new_worker, SIGKILL), 0);
    for (auto &client : clients) EXPECT_EQ(read_line(client.get()), "no\n") << "answered by the old generation";
    // Served meanwhile (by the old generation, or by the replacement once it is ready).
    for (auto &client : clients) EXPECT_FALSE(ask(client.get(), "pid").empty()) << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 20s)) << "every connection moved\n" << host.log();
    const auto serving = host.worker_pids();
    for (auto &client : clients) {
        const std::string pid = ask(client.get(), "pid");
        EXPECT_TRUE(is_one_of(pid, serving)) << "'" << pid << "'\n" << host.log();
        EXPECT_NE(pid, std::to_string(new_worker));
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// A reload that changes the number of workers still hands every connection over: to the
// new workers in turn, and back to one.
TEST(Handoff, AChangeInTheNumberOfWorkersHandsEveryConnectionOver) {
    auto config = handoff_config({handoff_listener("event", "tcp://127.0.0.1:0")});
    HostUnderTest host(config, {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<UniqueFd> clients;
    for (int index = 0; index < 6; ++index) {
        clients.push_back(connect_stream(host.listening()[0]));
        ASSERT_FALSE(ask(clients.back().get(), "pid").empty());
    }
    int generation = 1;
    for (const int workers : {3, 1}) {
        SCOPED_TRACE(std::to_string(workers) + " worker(s)");
        auto next = config;
        next["workers"] = workers;
        next["plugin_dir"] = host.plugin_dir().string();
        std::ofstream(host.config_path()) << next.dump();
        ASSERT_EQ(reload(host).exit_code, 0) << host.log();
        ASSERT_TRUE(host.wait_for_log("generation " + std::to_string(generation++) + " has exited", 20s)) << host.log();
        const auto serving = host.worker_pids();
        ASSERT_EQ(serving.size(), static_cast<std::size_t>(workers));
        std::set<std::string> answering;
        for (auto &client : clients) {
            const std::string pid = ask(client.get(), "pid");
            EXPECT_TRUE(is_one_of(pid, serving)) << "'" << pid << "'\n" << host.log();
            answering.insert(pid);
        }
        EXPECT_EQ(answering.size(), static_cast<std::size_t>(workers)) << "spread over every new worker";
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// A SIGTERM stop is no reload: nothing is handed over (the workers never drain for one),
// idle connections end, and the host exits 0.
TEST(Handoff, AStopHandsNothingOver) {
    HostUnderTest host(handoff_config({handoff_listener("threading", "tcp://127.0.0.1:0")}), {test_plugin("handoff_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd client = connect_stream(host.listening()[0]);
    ASSERT_FALSE(ask(client.get(), "pid").empty());
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    EXPECT_EQ(read_until_eof(client.get()), "");
    EXPECT_EQ(host.log().find("draining for a reload"), std::string::npos) << host.log();
}

// Plugins built for ABI 1.0 and 1.1 still load and keep their behaviour at a reload:
// their idle connections are closed, never moved, and the host reads nothing past their
// descriptors (what lies there would opt them in, and fail an export).
TEST(Handoff, PluginsOfOlderAbisLoadAndTheirIdleConnectionsEndAtAReload) {
    for (const char *plugin : {"frozen_abi_1_0", "frozen_abi_1_1", "frozen_abi_1_2"}) {
        SCOPED_TRACE(plugin);
        HostUnderTest host(handoff_config({handoff_listener("threading", "tcp://127.0.0.1:0", plugin)}),
                           {test_plugin(plugin)});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "ping");
        EXPECT_EQ(read_exactly(client.get(), 4), "ping");
        const auto outcome = reload(host);
        EXPECT_EQ(outcome.exit_code, 0) << outcome.output << host.log();
        EXPECT_EQ(read_until_eof(client.get()), "") << "closed by the old generation, as before ABI 1.2";
        EXPECT_EQ(host.log().find("past the descriptor"), std::string::npos) << host.log();
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

}  // namespace
}  // namespace sockhost::test
