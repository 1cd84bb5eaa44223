// Unix socket paths: a stale socket file is replaced, a live one is "address in use", a
// path that is not a socket is never removed, and the host removes what it created.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <fstream>

namespace sockhost::test {
namespace {

// Leaves a socket file at `path` with nobody behind it, as a crashed server would.
void leave_stale_socket(const std::filesystem::path &path, int type) {
    UniqueFd fd(::socket(AF_UNIX, type, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
}

nlohmann::json listener_at(const std::filesystem::path &path, const char *scheme = "unix:") {
    return {{"listen", scheme + path.string()}, {"plugin", "echo"}};
}

TEST(UnixSocketPath, StaleStreamSocketIsReplaced) {
    TempDir scratch;
    const auto path = scratch / "stale.sock";
    leave_stale_socket(path, SOCK_STREAM);
    HostUnderTest host({{"listeners", {listener_at(path)}}}, {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange("unix:" + path.string(), "fresh\n"), "fresh\n");
    EXPECT_EQ(host.stop(SIGTERM), 0);
    EXPECT_FALSE(std::filesystem::exists(path)) << "the host removes the socket file it created";
}

TEST(UnixSocketPath, StaleDatagramSocketIsReplaced) {
    TempDir scratch;
    const auto path = scratch / "stale-dgram.sock";
    leave_stale_socket(path, SOCK_DGRAM);
    HostUnderTest host({{"listeners", {listener_at(path, "unix-dgram:")}}}, {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client("unix-dgram:" + path.string());
    EXPECT_EQ(client.exchange("fresh"), "fresh");
}

TEST(UnixSocketPath, LiveSocketIsAddressInUse) {
    TempDir scratch;
    const auto path = scratch / "live.sock";
    HostUnderTest first({{"listeners", {listener_at(path)}}}, {bundled_plugin("echo")});
    ASSERT_TRUE(first.ready()) << first.log();
    const auto failure = run_expecting_exit({{"listeners", {listener_at(path)}}}, {bundled_plugin("echo")});
    EXPECT_EQ(failure.exit_code, 2);
    EXPECT_NE(failure.log.find("unix:" + path.string() + ": address in use"), std::string::npos) << failure.log;
    EXPECT_EQ(stream_exchange("unix:" + path.string(), "still here\n"), "still here\n")
        << "the first host keeps serving on its socket";
}

TEST(UnixSocketPath, NonSocketFileIsNeverRemoved) {
    TempDir scratch;
    const auto path = scratch / "precious.txt";
    std::ofstream(path) << "data\n";
    const auto failure = run_expecting_exit({{"listeners", {listener_at(path)}}}, {bundled_plugin("echo")});
    EXPECT_EQ(failure.exit_code, 2);
    EXPECT_NE(failure.log.find(path.string() + ": path exists and is not a socket; not removing it"), std::string::npos)
        << failure.log;
    std::ifstream kept(path);
    std::string content;
    std::getline(kept, content);
    EXPECT_EQ(content, "data");
}

TEST(UnixSocketPath, FailedStartLeavesNoSocketFileBehind) {
    TempDir scratch;
    const auto bound_first = scratch / "first.sock";
    const auto blocked = scratch / "blocked.txt";
    std::ofstream(blocked) << "not a socket\n";
    const auto failure = run_expecting_exit({{"listeners", {listener_at(bound_first), listener_at(blocked)}}},
                                            {bundled_plugin("echo")});
    EXPECT_EQ(failure.exit_code, 2) << failure.log;
    EXPECT_FALSE(std::filesystem::exists(bound_first)) << "the listener bound before the failure was cleaned up";
}

}  // namespace
}  // namespace sockhost::test
