// Each plugin runs in worker processes of its own (worker_group, docs/config.md): a crash
// in one plugin's handle reaches no other plugin's listeners, and listeners share a
// process only when the config puts them in one group.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sockhost::test {
namespace {

nlohmann::json listener(const char *plugin, const char *mode) {
    return {{"listen", "tcp://127.0.0.1:0"}, {"plugin", plugin}, {"mode", mode}};
}

// An echo connection mid-conversation: what it sends comes back.
void expect_echoes(int fd, const std::string &text) {
    send_all(fd, text);
    EXPECT_EQ(read_exactly(fd, text.size(), 5s), text);
}

TEST(Isolation, CrashInOnePluginLeavesAnotherPluginsConnectionsAndWorkerAlone) {
    for (const char *mode : {"sync", "threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host({{"listeners", {listener("probe", mode), listener("echo", "threading")}}},
                           {test_plugin("probe"), bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        ASSERT_EQ(host.worker_pids().size(), 2u) << "a worker per plugin";
        const auto echo = connect_stream(host.listening()[1]);
        expect_echoes(echo.get(), "before\n");
        const auto workers_before = host.worker_pids();
        for (int crash = 1; crash <= 3; ++crash) {
            EXPECT_EQ(stream_exchange(host.listening()[0], "crash\n"), "");
            // The backoff of the probe's worker (1 s, then 2 s) is the probe's alone.
            ASSERT_TRUE(host.wait_for_log(crash == 1 ? "killed by signal 6" : "exit " + std::to_string(crash) + " in a row"))
                << host.log();
            expect_echoes(echo.get(), "still here " + std::to_string(crash) + "\n");
        }
        EXPECT_EQ(stream_exchange(host.listening()[1], "new connection\n"), "new connection\n");
        const auto workers_after = host.worker_pids();
        const auto survived = std::count_if(workers_before.begin(), workers_before.end(), [&](pid_t pid) {
            return std::find(workers_after.begin(), workers_after.end(), pid) != workers_after.end();
        });
        EXPECT_EQ(survived, 1) << "the echo worker is the same process; the probe's was replaced";
        EXPECT_NE(host.log().find("it served plugin probe on " + host.listening()[0] + "\n"), std::string::npos)
            << "the crash names its own plugin and listener only\n"
            << host.log();
    }
}

// `workers` counts processes per group; listeners given one worker_group share them.
TEST(Isolation, WorkerGroupsDecideWhichListenersShareAProcess) {
    struct Case {
        const char *name;
        nlohmann::json probe_group, echo_group;
        int workers;
        std::size_t processes;
    };
    const Case cases[] = {{"default: a group per plugin", nullptr, nullptr, 2, 4},
                          {"one group named in both", "shared", "shared", 2, 2},
                          {"a plugin split over two groups", "left", "right", 1, 2}};
    for (const auto &test_case : cases) {
        SCOPED_TRACE(test_case.name);
        auto probe = listener("probe", "sync");
        auto echo = listener("echo", "sync");
        if (!test_case.probe_group.is_null()) probe["worker_group"] = test_case.probe_group;
        if (!test_case.echo_group.is_null()) echo["worker_group"] = test_case.echo_group;
        HostUnderTest host({{"workers", test_case.workers}, {"listeners", {probe, echo}}},
                           {test_plugin("probe"), bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(host.worker_pids().size(), test_case.processes);
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo p\n"), "p\n");
        EXPECT_EQ(stream_exchange(host.listening()[1], "e\n"), "e\n");
        EXPECT_NE(host.log().find(std::to_string(test_case.processes) + " worker(s), generation 1"), std::string::npos)
            << host.log();
    }
}

TEST(Isolation, SharedWorkerGroupSharesTheCrash) {
    auto probe = listener("probe", "sync");
    auto echo = listener("echo", "sync");
    probe["worker_group"] = echo["worker_group"] = "together";
    HostUnderTest host({{"listeners", {probe, echo}}}, {test_plugin("probe"), bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "crash\n"), "");
    ASSERT_TRUE(host.wait_for_log("killed by signal 6")) << host.log();
    EXPECT_NE(host.log().find("it served plugin probe on " + host.listening()[0] + ", plugin echo on " +
                              host.listening()[1]),
              std::string::npos)
        << host.log();
}

TEST(Isolation, WorkerGroupMustBeANonEmptyShortString) {
    for (const nlohmann::json &group : {nlohmann::json(""), nlohmann::json(std::string(65, 'g')), nlohmann::json(3)}) {
        SCOPED_TRACE(group.dump());
        auto probe = listener("probe", "sync");
        probe["worker_group"] = group;
        HostUnderTest host({{"listeners", {probe}}}, {test_plugin("probe")});
        EXPECT_FALSE(host.ready());
        EXPECT_EQ(host.wait_exit(), 2);
        EXPECT_NE(host.log().find("listeners[0].worker_group"), std::string::npos) << host.log();
    }
}

}  // namespace
}  // namespace sockhost::test
