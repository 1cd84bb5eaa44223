// Zero-downtime reload under load: 32 clients (new TCP connection per request, TCP
// keep-alive, UDP, new Unix connection per request) while the host reloads 50 times.
// The negative control shows the same harness does count the errors of an unsafe restart.
#include "client_load.hpp"
#include "host_under_test.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <regex>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json storm_config(const std::string &tcp, const std::string &udp, const std::string &unix_path) {
    return {{"workers", 2},
            {"drain_timeout", 5},
            {"listeners",
             {{{"listen", tcp}, {"plugin", "probe"}, {"mode", "threading"}},
              {{"listen", udp}, {"plugin", "probe"}},
              {{"listen", "unix:" + unix_path}, {"plugin", "probe"}, {"mode", "threading"}}}}};
}

ClientLoad::Targets targets_of(const HostUnderTest &host) {
    return {host.listening().at(0), host.listening().at(1), host.listening().at(2)};
}

void wait_until_served(const ClientLoad &load, long at_least) {
    for (int wait = 0; wait < 1000 && load.counts().served < at_least; ++wait) std::this_thread::sleep_for(10ms);
}

int generations_promoted(const std::string &log) {
    static const std::regex promoted("reload: generation \\d+ is serving");
    return static_cast<int>(std::distance(std::sregex_iterator(log.begin(), log.end(), promoted), std::sregex_iterator()));
}

TEST(ReloadStorm, NoClientSeesAnErrorAcrossFiftyReloads) {
    HostUnderTest host(storm_config("tcp://127.0.0.1:0", "udp://127.0.0.1:0", "storm.sock"), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    ClientLoad load(targets_of(host), 8);
    wait_until_served(load, 200);
    LoadCounts before[4];
    for (int kind = 0; kind < 4; ++kind) before[kind] = load.counts_of(kind);

    for (int reload = 0; reload < 50; ++reload) {
        ::kill(host.pid(), SIGHUP);
        std::this_thread::sleep_for(100ms);
    }
    // The last reload settles, and its predecessor drains, under the same load.
    ASSERT_TRUE(host.wait_for_log("SIGHUP: reloading")) << host.log();
    std::this_thread::sleep_for(1s);
    load.stop();

    const char *kinds[] = {"tcp, a connection per request", "tcp keep-alive", "udp", "unix, a connection per request"};
    for (int kind = 0; kind < 4; ++kind) {
        const LoadCounts counts = load.counts_of(kind);
        SCOPED_TRACE(kinds[kind]);
        EXPECT_EQ(counts.refused, 0) << counts.describe();
        EXPECT_EQ(counts.reset, 0) << counts.describe();
        EXPECT_EQ(counts.early_eof, 0) << counts.describe();
        EXPECT_EQ(counts.timed_out, 0) << counts.describe();
        EXPECT_EQ(counts.wrong, 0) << counts.describe();
        EXPECT_GT(counts.served, before[kind].served) << "requests were served during the reloads";
        RecordProperty(std::string("load_") + std::to_string(kind), counts.describe());
    }
    const std::string log = host.log();
    EXPECT_GE(generations_promoted(log), 5) << "reloads completed (requests during a reload are coalesced)";
    EXPECT_EQ(log.find("reload failed"), std::string::npos) << log;
    EXPECT_EQ(log.find("starting a replacement"), std::string::npos) << "no worker died: " << log;
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(ReloadStorm, HarnessCountsTheErrorsOfAnUnsafeRestart) {
    auto first = std::make_unique<HostUnderTest>(
        storm_config("tcp://127.0.0.1:0", "udp://127.0.0.1:0", "unsafe.sock"), std::vector{test_plugin("probe")});
    ASSERT_TRUE(first->ready()) << first->log();
    const auto targets = targets_of(*first);
    ClientLoad load(targets, 8, 1s);
    wait_until_served(load, 200);
    ASSERT_EQ(load.counts().errors(), 0) << load.counts().describe();

    // What a reload must not be: kill everything and start again on the same addresses.
    first->stop(SIGKILL);
    std::unique_ptr<HostUnderTest> second;
    for (int attempt = 0; attempt < 50 && !(second && second->ready()); ++attempt) {
        second = std::make_unique<HostUnderTest>(
            storm_config(targets.tcp, targets.udp, targets.unix_stream.substr(5)), std::vector{test_plugin("probe")});
        if (!second->ready()) std::this_thread::sleep_for(20ms);  // the old sockets are still closing
    }
    ASSERT_TRUE(second->ready()) << second->log();
    const long served_at_restart = load.counts().served;
    wait_until_served(load, served_at_restart + 200);
    load.stop();
    const LoadCounts counts = load.counts();
    RecordProperty("load", counts.describe());
    EXPECT_GT(counts.refused + counts.reset + counts.early_eof + counts.timed_out, 0) << counts.describe();
    EXPECT_GT(counts.served, served_at_restart) << "the restarted host serves";
}

}  // namespace
}  // namespace sockhost::test
