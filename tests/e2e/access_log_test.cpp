// A listener's access log on the real binary (docs/operations.md, "Access log"): one JSON
// line per request, with its listener, plugin, outcome and bytes, in a file of mode 0640.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::filesystem::path &file) {
    std::vector<std::string> lines;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

struct LogCase {
    const char *name;
    const char *listen;
    const char *mode;
    bool datagram;
};
void PrintTo(const LogCase &log_case, std::ostream *out) { *out << log_case.name; }

class AccessLog : public ::testing::TestWithParam<LogCase> {};

TEST_P(AccessLog, OneJsonLinePerRequestWithItsOutcomeAndBytes) {
    const LogCase &log_case = GetParam();
    HostUnderTest host({{"listeners",
                         {{{"listen", log_case.listen},
                           {"plugin", "probe"},
                           {"mode", log_case.mode},
                           {"access_log", "access.log"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string address = host.listening()[0];
    // Three ok requests (8 bytes in, 3 out), and one the probe fails (9 in, nothing out).
    const std::vector<std::string> sent = {"echo hi\n", "echo hi\n", "echo hi\n", "nonsense\n"};
    for (const std::string &request : sent) {
        if (log_case.datagram) {
            DatagramClient client(address);
            client.send(request);
            if (request != "nonsense\n") {
                EXPECT_EQ(client.receive(), "hi\n");
            }
        } else {
            stream_exchange(address, request);
        }
    }
    const auto file = host.dir() / "access.log";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (lines_of(file).size() < sent.size() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    // The stop drains the log's writer: nothing more can come after it.
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    const auto lines = lines_of(file);
    ASSERT_EQ(lines.size(), sent.size()) << host.log();
    int ok = 0, error = 0;
    for (const std::string &line : lines) {
        SCOPED_TRACE(line);
        const auto entry = nlohmann::json::parse(line, nullptr, false);
        ASSERT_TRUE(entry.is_object());
        EXPECT_EQ(entry.value("listener", ""), address) << "the bound address, as logged";
        EXPECT_EQ(entry.value("plugin", ""), "probe");
        EXPECT_TRUE(entry.contains("peer") && entry["peer"].is_string());
        EXPECT_TRUE(entry.contains("time") && entry["time"].get<std::string>().ends_with("Z"));
        EXPECT_TRUE(entry.contains("duration") && entry["duration"].is_number() && entry["duration"].get<double>() >= 0);
        const std::string outcome = entry.value("outcome", "");
        if (outcome == "ok") {
            ++ok;
            EXPECT_EQ(entry.value("received", -1), 8);
            EXPECT_EQ(entry.value("sent", -1), 3);
        } else if (outcome == "error") {
            ++error;
            EXPECT_EQ(entry.value("received", -1), 9);
            EXPECT_EQ(entry.value("sent", -1), 0);
        } else {
            ADD_FAILURE() << "unexpected outcome " << outcome;
        }
    }
    EXPECT_EQ(ok, 3);
    EXPECT_EQ(error, 1);
    struct stat status {};
    ASSERT_EQ(::stat(file.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0640u);
}

const LogCase kCases[] = {
    {"tcp_sync", "tcp://127.0.0.1:0", "sync", false},
    {"tcp_threading", "tcp://127.0.0.1:0", "threading", false},
    {"tcp_forking", "tcp://127.0.0.1:0", "forking", false},
    {"tcp_event", "tcp://127.0.0.1:0", "event", false},
    {"unix_threading", "unix:logged.sock", "threading", false},
    {"udp_forking", "udp://127.0.0.1:0", "forking", true},
};

INSTANTIATE_TEST_SUITE_P(Listeners, AccessLog, ::testing::ValuesIn(kCases),
                         [](const auto &cell) { return std::string(cell.param.name); });

// The access log does not depend on the metrics: with "metrics": false it still gets its
// lines, and the listener families have no samples.
TEST(AccessLogWithoutMetrics, StillOneLinePerRequest) {
    HostUnderTest host({{"admin", "unix:admin.sock"},
                        {"metrics", false},
                        {"listeners",
                         {{{"listen", "tcp://127.0.0.1:0"},
                           {"plugin", "probe"},
                           {"mode", "threading"},
                           {"access_log", "access.log"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo hi\n"), "hi\n");
    const auto file = host.dir() / "access.log";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (lines_of(file).empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    const std::string exposition = http_get(admin_of(host), "/metrics").body;
    EXPECT_EQ(exposition.find("sockhost_requests_total{"), std::string::npos) << exposition;
    EXPECT_NE(exposition.find("sockhost_generation 1"), std::string::npos) << exposition;
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    const auto lines = lines_of(file);
    ASSERT_EQ(lines.size(), 1u) << host.log();
    const auto entry = nlohmann::json::parse(lines[0], nullptr, false);
    EXPECT_EQ(entry.value("outcome", ""), "ok") << lines[0];
    EXPECT_EQ(entry.value("received", -1), 8) << lines[0];
    EXPECT_EQ(entry.value("sent", -1), 3) << lines[0];
}

// Forking mode: the child writes its request's line; one that crashed leaves none (the
// request still counts on /metrics, as an error).
TEST(AccessLogForking, AChildThatCrashedLeavesNoLine) {
    HostUnderTest host({{"listeners",
                         {{{"listen", "tcp://127.0.0.1:0"},
                           {"plugin", "probe"},
                           {"mode", "forking"},
                           {"access_log", "access.log"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "crash\n"), "");
    ASSERT_TRUE(host.wait_for_log("request child")) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo after\n"), "after\n");
    const auto file = host.dir() / "access.log";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (lines_of(file).empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    const auto lines = lines_of(file);
    ASSERT_EQ(lines.size(), 1u) << host.log();
    const auto entry = nlohmann::json::parse(lines[0], nullptr, false);
    EXPECT_EQ(entry.value("outcome", ""), "ok") << lines[0];
    EXPECT_EQ(entry.value("received", -1), 11);
}

}  // namespace
}  // namespace sockhost::test
