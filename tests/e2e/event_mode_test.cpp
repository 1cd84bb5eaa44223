// What the event mode promises beyond the other modes' columns: many requests at once on
// one thread, max_connections as back-pressure (never a drop), a fiber stack overflow as
// a clean SIGSEGV, and idle keep-alive connections that cost little memory.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace sockhost::test {
namespace {

nlohmann::json event_listener(const char *plugin = "probe", nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json listener = {{"listen", "tcp://127.0.0.1:0"}, {"plugin", plugin}, {"mode", "event"}};
    listener.update(extra);
    return listener;
}

// `count` clients connect at once and each asks for a rendezvous; returns the answers.
std::vector<std::string> rendezvous_all(const HostUnderTest &host, int count, int patience_ms) {
    const auto meeting = host.dir() / "meeting";
    std::filesystem::create_directories(meeting);
    const std::string request = "rendezvous " + meeting.string() + " " + std::to_string(patience_ms) + "\n";
    std::vector<std::future<std::string>> clients;
    for (int client = 0; client < count; ++client)
        clients.push_back(std::async(std::launch::async, [&] { return stream_exchange(host.listening()[0], request); }));
    std::vector<std::string> answers;
    for (auto &client : clients) answers.push_back(client.get());
    return answers;
}

long resident_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    return -1;
}

std::size_t mapping_count(pid_t pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::size_t count = 0;
    for (std::string line; std::getline(maps, line);) ++count;
    return count;
}

TEST(EventMode, ManySlowRequestsProgressTogetherOnOneThread) {
    HostUnderTest host({{"listeners", {event_listener()}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const int threads_before = thread_count(host.worker_pid());
    // 40 clients at once: each waits (sleeping on its fiber) until it sees another in its
    // handler. One blocked handler would leave every other one "alone".
    auto answers = std::async(std::launch::async, [&] { return rendezvous_all(host, 40, 20000); });
    ASSERT_EQ(answers.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    for (const auto &answer : answers.get()) EXPECT_EQ(answer, "overlap\n");
    EXPECT_EQ(thread_count(host.worker_pid()), threads_before) << "no thread per request";
    EXPECT_TRUE(child_pids(host.worker_pid()).empty()) << "no process per request";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(EventMode, ConnectionsBeyondMaxConnectionsWaitAndNoneIsDropped) {
    HostUnderTest host({{"listeners", {event_listener("probe", {{"max_connections", 2}})}}}, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<std::future<std::string>> clients;
    for (int client = 0; client < 30; ++client)
        clients.push_back(std::async(std::launch::async, [&, client] {
            return stream_exchange(host.listening()[0], "sleep 20\necho " + std::to_string(client) + "\n");
        }));
    for (int client = 0; client < 30; ++client)
        EXPECT_EQ(clients[static_cast<std::size_t>(client)].get(), "slept\n" + std::to_string(client) + "\n");
}

TEST(EventMode, FiberStackOverflowKillsTheWorkerWithSigsegvAndItIsReplaced) {
    HostUnderTest host({{"listeners", {event_listener("probe", {{"fiber_stack_size", 16384}})}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
#if defined(__SANITIZE_ADDRESS__)
    host.expect_sanitizer_report("AddressSanitizer: stack-overflow");
#elif defined(__SANITIZE_THREAD__)
    host.expect_sanitizer_report("ThreadSanitizer: SEGV");
#endif
    const pid_t worker = host.worker_pid();
    EXPECT_EQ(stream_exchange(host.listening()[0], "recurse 4\n"), "recursed 4\n") << "within the stack";
    EXPECT_EQ(stream_exchange(host.listening()[0], "recurse 1000\n"), "") << "a MiB of stack: past the guard page";
    ASSERT_TRUE(host.wait_for_log("worker 1 replaced (pid")) << host.log();
#if !defined(SOCKHOST_TEST_SANITIZED)
    // Without a sanitizer (which reports the overflow itself) the host says what happened.
    EXPECT_NE(host.log().find("overflowed its fiber stack (fiber_stack_size 16384)"), std::string::npos)
        << host.log();
    EXPECT_NE(host.log().find("(pid " + std::to_string(worker) + ") killed by signal 11"), std::string::npos)
        << host.log();
#endif
    // The replacement serves; the supervisor was never harmed.
    EXPECT_NE(host.worker_pid(), worker);
    EXPECT_EQ(stream_exchange(host.listening()[0], "recurse 4\n"), "recursed 4\n");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(EventMode, OneFrameFarPastTheGuardPageIsReportedAsAStackOverflow) {
#if defined(SOCKHOST_TEST_SANITIZED)
    GTEST_SKIP() << "under a sanitizer the host installs no overflow report";
#endif
    HostUnderTest host({{"listeners", {event_listener("probe", {{"fiber_stack_size", 16384}})}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const pid_t worker = host.worker_pid();
    // A 1 MiB frame on a 16 KiB stack: the fault is about a MiB below the guard page.
    EXPECT_EQ(stream_exchange(host.listening()[0], "huge-frame\n"), "");
    ASSERT_TRUE(host.wait_for_log("worker 1 replaced (pid")) << host.log();
    EXPECT_NE(host.log().find("overflowed its fiber stack (fiber_stack_size 16384)"), std::string::npos)
        << host.log();
    EXPECT_NE(host.log().find("(pid " + std::to_string(worker) + ") killed by signal 11"), std::string::npos)
        << host.log();
    EXPECT_NE(host.worker_pid(), worker);
    EXPECT_EQ(stream_exchange(host.listening()[0], "recurse 4\n"), "recursed 4\n");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(EventMode, TheSmallestFiberStackServesEveryHostPath) {
    HostUnderTest host({{"listeners", {event_listener("probe", {{"fiber_stack_size", 16384}, {"config", {{"log_hooks", true}}}}),
                                       event_listener("probe", {{"listen", "udp://127.0.0.1:0"}, {"fiber_stack_size", 16384}})}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo a\nsleep 1\nwhoami\n").substr(0, 8), "a\nslept\n");
    // The handler fails on "bogus" and leaves input unread: completion lingers, reading
    // and dropping the rest, on the same small stack.
    UniqueFd client = connect_stream(host.listening()[0]);
    send_all(client.get(), "big 100000\nbogus\n" + std::string(200000, 'z'));
    EXPECT_EQ(read_until_eof(client.get()).size(), 100000u);
    ASSERT_TRUE(host.wait_for_log("unknown command 'bogus'")) << host.log();
    DatagramClient datagram(host.listening()[1]);
    EXPECT_EQ(datagram.exchange("big 3000\n").size(), 3000u);
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(EventMode, IdleKeepAliveConnectionsCostAtMostSixteenKibEach) {
#if defined(SOCKHOST_TEST_SANITIZED)
    GTEST_SKIP() << "sanitizers multiply memory use";
#endif
    // Both this test and the host (which inherits the limit) hold one descriptor per connection.
    rlimit descriptors{};
    ::getrlimit(RLIMIT_NOFILE, &descriptors);
    descriptors.rlim_cur = descriptors.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &descriptors);
    if (descriptors.rlim_cur < 600) GTEST_SKIP() << "the descriptor limit is too low: " << descriptors.rlim_cur;
    const int connections = static_cast<int>(std::min<rlim_t>(2000, descriptors.rlim_cur - 100));
    HostUnderTest host({{"listeners", {event_listener("http")}}}, {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string request = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
    // One keep-alive exchange first: the reply's size, and the loop's first allocations.
    UniqueFd first = connect_stream(host.listening()[0]);
    send_all(first.get(), request);
    std::string reply;
    while (reply.find("\r\n\r\n") == std::string::npos) reply += read_exactly(first.get(), 1);
    const auto length_at = reply.find("Content-Length: ") + 16;
    const std::size_t reply_size = reply.size() + std::stoul(reply.substr(length_at));
    read_exactly(first.get(), reply_size - reply.size());
    const pid_t worker = host.worker_pid();
    const long before = resident_kib(worker);
    const std::size_t mappings_before = mapping_count(worker);

    std::vector<UniqueFd> idle;
    for (int connection = 0; connection < connections; ++connection) {
        idle.push_back(connect_stream(host.listening()[0]));
        send_all(idle.back().get(), request);
        ASSERT_EQ(read_exactly(idle.back().get(), reply_size).size(), reply_size) << "connection " << connection;
    }
    const long after = resident_kib(worker);
    const double per_connection = static_cast<double>(after - before) / connections;
    EXPECT_LE(per_connection, 16.0) << "KiB resident per idle keep-alive connection (" << before << " -> " << after
                                    << " KiB)";
    RecordProperty("resident_kib_per_idle_connection", std::to_string(per_connection));
    EXPECT_GT(mapping_count(worker), mappings_before + static_cast<std::size_t>(connections))
        << "each connection's fiber has a stack mapping and a guard page";

    // The clients leave: the stacks beyond the 1024 idle fibers kept are unmapped.
    idle.clear();
    const std::size_t kept = mappings_before + 2 * 1024 + 16;
    for (int wait = 0; wait < 500 && mapping_count(worker) > kept; ++wait)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_LE(mapping_count(worker), kept) << "memory of a burst of connections is given back";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

}  // namespace
}  // namespace sockhost::test
