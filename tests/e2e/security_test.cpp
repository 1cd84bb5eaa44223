// What the host refuses to load (StrictModes for plugin files), the Unix socket file's mode
// and owner, and switching to `user` after binding: against the real binary. Tests that
// need root skip without it.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace sockhost::test {
namespace {

namespace fs = std::filesystem;

// A private copy of the probe plugin in `dir`, with `mode`.
fs::path copy_probe(const fs::path &dir, mode_t mode = 0755) {
    const auto copy = dir / "probe.so";
    fs::copy_file(test_plugin("probe"), copy);
    EXPECT_EQ(::chmod(copy.c_str(), mode), 0);
    return copy;
}

nlohmann::json tcp_probe_config() {
    return {{"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}}}}};
}

// The probe run as nobody from `plugins`: made a root-owned 0755 directory holding a copy
// of it, which nobody can read.
nlohmann::json probe_as_nobody(const TempDir &plugins) {
    EXPECT_EQ(::chmod(plugins.path().c_str(), 0755), 0);
    copy_probe(plugins.path());
    auto config = tcp_probe_config();
    config["plugin_dir"] = plugins.path().string();
    config["user"] = "nobody";
    return config;
}

void expect_refused(const StartFailure &failure, const std::string &reason) {
    EXPECT_EQ(failure.exit_code, 2) << failure.log;
    EXPECT_NE(failure.log.find(reason), std::string::npos) << failure.log;
    EXPECT_NE(failure.log.find("; not started"), std::string::npos) << failure.log;
    EXPECT_EQ(failure.log.find("listening on"), std::string::npos) << "nothing served: " << failure.log;
}

// "Uid:", "Gid:" or "Groups:" from /proc/PID/status, without the key.
std::string process_status_field(pid_t pid, const std::string &key) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with(key + ":")) {
            std::string value = line.substr(key.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
            return value;
        }
    return "(no " + key + ")";
}

TEST(StrictModes, GroupWritablePluginFileIsRefused) {
    TempDir scratch;
    const auto plugin = copy_probe(scratch.path(), 0664);
    const auto failure = run_expecting_exit(tcp_probe_config(), {plugin});
    expect_refused(failure, "probe.so: refused: its target " + plugin.string() +
                                " is group-writable (mode 0664); fix the mode or set strict_modes: false");
}

TEST(StrictModes, PluginInWorldWritableDirectoryIsRefused) {
    TempDir scratch;
    const auto open = scratch / "open";
    fs::create_directory(open);
    ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
    const auto plugin = copy_probe(open);
    const auto failure = run_expecting_exit(tcp_probe_config(), {plugin});
    expect_refused(failure, "probe.so: refused: directory " + open.string() +
                                " is world-writable (mode 0777); fix the mode or set strict_modes: false");
}

TEST(StrictModes, FalseLoadsTheSamePluginWithAWarning) {
    TempDir scratch;
    const auto plugin = copy_probe(scratch.path(), 0666);
    auto config = tcp_probe_config();
    config["strict_modes"] = false;
    HostUnderTest host(config, {plugin});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_NE(host.log().find("warning: strict_modes is false"), std::string::npos) << host.log();
    EXPECT_EQ(stream_exchange(host.listening().at(0), "echo loaded anyway\n"), "loaded anyway\n");
    EXPECT_EQ(host.stop(SIGTERM), 0);
}

TEST(StrictModes, PluginOwnedBySomeoneElseIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
    TempDir scratch;
    const auto plugin = copy_probe(scratch.path());
    ASSERT_EQ(::chown(plugin.c_str(), 4242, 4242), 0);
    const auto failure = run_expecting_exit(tcp_probe_config(), {plugin});
    expect_refused(failure, "probe.so: refused: its target " + plugin.string() +
                                " is owned by uid 4242, not by root; fix the owner or set "
                                "strict_modes: false");
}

TEST(SocketPermissions, SocketModeIsTheSocketFilesMode) {
    TempDir scratch;
    const auto stream_path = scratch / "stream.sock";
    const auto datagram_path = scratch / "datagram.sock";
    HostUnderTest host({{"listeners",
                         {{{"listen", "unix:" + stream_path.string()}, {"plugin", "probe"}, {"socket_mode", "0660"}},
                          {{"listen", "unix-dgram:" + datagram_path.string()}, {"plugin", "probe"}, {"socket_mode", "0600"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    struct stat status {};
    ASSERT_EQ(::stat(stream_path.c_str(), &status), 0);
    EXPECT_TRUE(S_ISSOCK(status.st_mode));
    EXPECT_EQ(status.st_mode & 07777, 0660u);
    ASSERT_EQ(::stat(datagram_path.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0600u);
    EXPECT_EQ(stream_exchange("unix:" + stream_path.string(), "echo still served\n"), "still served\n");
}

// Without socket_mode only the host's user may connect (write permission on the file),
// whatever the umask: under umask 000 the file is not world-writable, under 077 it is as
// the umask makes it.
TEST(SocketPermissions, WithoutSocketModeOnlyTheOwnerMayConnectUnderAnyUmask) {
    for (const auto &[umask, expected] : {std::pair<mode_t, mode_t>{0000, 0755}, {0002, 0755}, {0022, 0755}, {0077, 0700}}) {
        TempDir scratch;
        const auto stream_path = scratch / "stream.sock";
        const auto datagram_path = scratch / "datagram.sock";
        Launch launch;
        launch.umask = umask;
        HostUnderTest host({{"listeners",
                             {{{"listen", "unix:" + stream_path.string()}, {"plugin", "probe"}},
                              {{"listen", "unix-dgram:" + datagram_path.string()}, {"plugin", "probe"}}}}},
                           {test_plugin("probe")}, launch);
        ASSERT_TRUE(host.ready()) << host.log();
        for (const auto &path : {stream_path, datagram_path}) {
            struct stat status {};
            ASSERT_EQ(::stat(path.c_str(), &status), 0);
            EXPECT_EQ(status.st_mode & 07777, expected)
                << path << " under umask " << std::oct << umask << ": mode " << (status.st_mode & 07777);
        }
        EXPECT_EQ(stream_exchange("unix:" + stream_path.string(), "echo served\n"), "served\n");
    }
}

TEST(SocketPermissions, SocketOwnerIsTheSocketFilesOwner) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the socket to another user";
    TempDir scratch;
    const auto user_path = scratch / "user.sock";
    const auto both_path = scratch / "both.sock";
    HostUnderTest host({{"listeners",
                         {{{"listen", "unix:" + user_path.string()}, {"plugin", "probe"}, {"socket_owner", "nobody"}},
                          {{"listen", "unix:" + both_path.string()},
                           {"plugin", "probe"},
                           {"socket_owner", "nobody:nogroup"},
                           {"socket_mode", "0660"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    struct stat status {};
    ASSERT_EQ(::stat(user_path.c_str(), &status), 0);
    EXPECT_EQ(status.st_uid, 65534u);
    EXPECT_EQ(status.st_gid, ::getegid()) << "\"user\" alone leaves the group as bound";
    ASSERT_EQ(::stat(both_path.c_str(), &status), 0);
    EXPECT_EQ(status.st_uid, 65534u);
    EXPECT_EQ(status.st_gid, 65534u);
    EXPECT_EQ(status.st_mode & 07777, 0660u);
}

// A free privileged port on 127.0.0.1, or 0 if none of a few is free.
std::uint16_t free_privileged_port() {
    for (const std::uint16_t port : {997, 993, 991, 989, 1021, 1019}) {
        UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(probe.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) == 0) return port;
    }
    return 0;
}

TEST(RunAsUser, BindsPrivilegedPortThenServesAsTheUser) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch user";
    const std::uint16_t port = free_privileged_port();
    if (port == 0) GTEST_SKIP() << "no free privileged port on 127.0.0.1";
    // The plugin directory must be readable by nobody: a root-owned 0755 directory of its own.
    TempDir plugins;
    ASSERT_EQ(::chmod(plugins.path().c_str(), 0755), 0);
    copy_probe(plugins.path());
    const std::string address = "tcp://127.0.0.1:" + std::to_string(port);
    HostUnderTest host({{"user", "nobody"},
                        {"plugin_dir", plugins.path().string()},
                        {"listeners",
                         {{{"listen", address}, {"plugin", "probe"}},
                          {{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}, {"mode", "forking"}}}}},
                       {});
    ASSERT_TRUE(host.ready()) << host.log();
    ASSERT_EQ(host.listening().size(), 2u);
    EXPECT_EQ(host.listening()[0], address);
    EXPECT_NE(host.log().find("running as user nobody (uid 65534, gid 65534)"), std::string::npos) << host.log();

    const UniqueFd connection = connect_stream(address);
    send_all(connection.get(), "pid\n");
    const pid_t serving = std::stoi(read_line(connection.get()));
    EXPECT_EQ(process_status_field(serving, "Uid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(process_status_field(serving, "Gid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(process_status_field(serving, "Groups"), "65534") << "root's supplementary groups are gone";
    send_all(connection.get(), "echo served as nobody\n");
    EXPECT_EQ(read_line(connection.get()), "served as nobody\n");

    // A forked request child is the same user: it never was root.
    const UniqueFd forked = connect_stream(host.listening()[1]);
    send_all(forked.get(), "pid\n");
    const pid_t child = std::stoi(read_line(forked.get()));
    EXPECT_NE(child, host.pid());
    EXPECT_EQ(process_status_field(child, "Uid"), "65534\t65534\t65534\t65534");
    ::shutdown(connection.get(), SHUT_WR);
    ::shutdown(forked.get(), SHUT_WR);
    EXPECT_EQ(host.stop(SIGTERM), 0);
}

TEST(RunAsUser, WorkerDoesNotOutliveASupervisorKilledBySigkill) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch user";
    TempDir plugins;
    HostUnderTest host(probe_as_nobody(plugins), {});
    ASSERT_TRUE(host.ready()) << host.log();
    const pid_t worker = host.worker_pid();
    ASSERT_TRUE(process_alive(worker));
    // Switching user clears the parent-death signal; the worker must have armed it again.
    EXPECT_EQ(host.stop(SIGKILL), 128 + SIGKILL);
    EXPECT_TRUE(ended_within(worker)) << "worker " << worker << " outlived its supervisor";
    if (process_alive(worker)) ::kill(worker, SIGKILL);
}

// The switch to `user` clears the worker's own parent-death signal, never its request
// children's: they are forked after it, and ask for theirs themselves.
TEST(RunAsUser, RequestChildDoesNotOutliveASupervisorKilledBySigkill) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch user";
    TempDir plugins;
    auto config = probe_as_nobody(plugins);
    config["listeners"][0]["mode"] = "forking";
    HostUnderTest host(config, {});
    ASSERT_TRUE(host.ready()) << host.log();
    const pid_t worker = host.worker_pid();
    const auto request = hanging_probe_request(host.listening()[0]);
    ASSERT_TRUE(process_alive(request.pid));
    EXPECT_EQ(process_status_field(request.pid, "Uid"), "65534\t65534\t65534\t65534");

    EXPECT_EQ(host.stop(SIGKILL), 128 + SIGKILL);
    EXPECT_TRUE(ended_within(worker)) << "worker " << worker << " outlived its supervisor";
    EXPECT_TRUE(ended_within(request.pid)) << "request child " << request.pid << " outlived the supervisor";
    for (const pid_t left : {worker, request.pid})
        if (process_alive(left)) ::kill(left, SIGKILL);
}

TEST(RunAsUser, PluginCheckTrustsTheUserSwitchedTo) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch user";
    TempDir plugins;
    ASSERT_EQ(::chmod(plugins.path().c_str(), 0755), 0);
    const auto plugin = copy_probe(plugins.path());
    ASSERT_EQ(::chown(plugin.c_str(), 65534, 65534), 0);
    auto config = tcp_probe_config();
    config["plugin_dir"] = plugins.path().string();
    config["user"] = "nobody";
    HostUnderTest host(config, {});
    ASSERT_TRUE(host.ready()) << "a plugin owned by the host's user is trusted\n" << host.log();

    config["user"] = "daemon";  // another user: nobody's file could be changed by nobody
    const auto failure = run_expecting_exit(config, {});
    expect_refused(failure, plugin.string() + ": refused: owned by nobody (uid 65534), not by root or daemon");
}

TEST(RunAsUser, OtherUserWithoutRootIsAStartupError) {
    if (::geteuid() == 0) GTEST_SKIP() << "needs a user other than root";
    const bool daemon = ::geteuid() == 1;
    auto config = tcp_probe_config();
    config["user"] = daemon ? "nobody" : "daemon";
    const auto failure = run_expecting_exit(config, {test_plugin("probe")});
    expect_refused(failure, std::string(daemon ? "user nobody (uid 65534, gid 65534)" : "user daemon (uid 1, gid 1)") +
                                ": cannot switch to it: sockhost runs as ");
}

}  // namespace
}  // namespace sockhost::test
