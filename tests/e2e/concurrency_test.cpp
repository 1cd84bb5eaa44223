// Concurrency shown by overlap, not by timing: the probe plugin's "rendezvous" answers
// "overlap" only when two requests are inside its handler at the same moment.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

namespace sockhost::test {
namespace {

// Two clients connect at once and each asks for a rendezvous; returns both answers.
std::pair<std::string, std::string> two_rendezvous(const HostUnderTest &host, int patience_ms) {
    const auto meeting = host.dir() / "meeting";
    std::filesystem::create_directories(meeting);
    const std::string request = "rendezvous " + meeting.string() + " " + std::to_string(patience_ms) + "\n";
    auto first = std::async(std::launch::async, [&] { return stream_exchange(host.listening()[0], request); });
    auto second = std::async(std::launch::async, [&] { return stream_exchange(host.listening()[0], request); });
    return {first.get(), second.get()};
}

nlohmann::json probe_listener(const char *mode) {
    return {{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}, {"mode", mode}};
}

TEST(Concurrency, ThreadingServesTwoSlowRequestsAtOnce) {
    HostUnderTest host({{"listeners", {probe_listener("threading")}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto [first, second] = two_rendezvous(host, 10000);
    EXPECT_EQ(first, "overlap\n");
    EXPECT_EQ(second, "overlap\n");
}

TEST(Concurrency, ForkingServesTwoSlowRequestsAtOnce) {
    HostUnderTest host({{"listeners", {probe_listener("forking")}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto [first, second] = two_rendezvous(host, 10000);
    EXPECT_EQ(first, "overlap\n");
    EXPECT_EQ(second, "overlap\n");
}

TEST(Concurrency, EventServesTwoSlowRequestsAtOnceOnOneThread) {
    HostUnderTest host({{"listeners", {probe_listener("event")}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const int threads_before = thread_count(host.worker_pid());
    const auto [first, second] = two_rendezvous(host, 10000);
    EXPECT_EQ(first, "overlap\n");
    EXPECT_EQ(second, "overlap\n");
    EXPECT_EQ(thread_count(host.worker_pid()), threads_before);
}

TEST(Concurrency, SyncNeverOverlapsButServesBoth) {
    HostUnderTest host({{"listeners", {probe_listener("sync")}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto [first, second] = two_rendezvous(host, 1000);
    EXPECT_EQ(first, "alone\n");
    EXPECT_EQ(second, "alone\n");
}

TEST(Concurrency, MaxChildrenHoldsBackTheNextRequest) {
    auto listener = probe_listener("forking");
    listener["max_children"] = 1;
    HostUnderTest host({{"listeners", {listener}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto [first, second] = two_rendezvous(host, 1000);
    EXPECT_EQ(first, "alone\n") << "the second client waited in the backlog";
    EXPECT_EQ(second, "alone\n") << "and was served once the first child ended";
}

TEST(Concurrency, MaxThreadsHoldsBackTheNextRequest) {
    auto listener = probe_listener("threading");
    listener["max_threads"] = 1;
    HostUnderTest host({{"listeners", {listener}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto [first, second] = two_rendezvous(host, 1000);
    EXPECT_EQ(first, "alone\n");
    EXPECT_EQ(second, "alone\n");
}

TEST(Concurrency, MaxConnectionsHoldsBackTheNextRequest) {
    auto listener = probe_listener("event");
    listener["max_connections"] = 1;
    HostUnderTest host({{"listeners", {listener}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto [first, second] = two_rendezvous(host, 1000);
    EXPECT_EQ(first, "alone\n");
    EXPECT_EQ(second, "alone\n");
}

TEST(Concurrency, EventRunsEveryRequestInTheWorkerProcess) {
    HostUnderTest host({{"listeners", {probe_listener("event")}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "pid\n"), std::to_string(host.worker_pid()) + "\n");
}

TEST(Concurrency, ForkingRunsEachRequestInItsOwnChild) {
    HostUnderTest host({{"listeners", {probe_listener("forking")}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string first = stream_exchange(host.listening()[0], "pid\n");
    const std::string second = stream_exchange(host.listening()[0], "pid\n");
    EXPECT_NE(first, std::to_string(host.worker_pid()) + "\n");
    EXPECT_NE(first, second);
}

}  // namespace
}  // namespace sockhost::test
