// Running under systemd: socket activation (sockets matched by name and by address, the
// rest closed) and service notifications (READY, RELOADING with MONOTONIC_USEC, STATUS,
// STOPPING) on a NOTIFY_SOCKET the test owns. systemd-socket-activate (Debian package
// `systemd`) passes the sockets, as systemd does for a .socket unit.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

const char *const kActivate = "/usr/bin/systemd-socket-activate";

std::uint16_t free_tcp_port() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&address), &length);
    return ntohs(address.sin_port);
}

// A NOTIFY_SOCKET in the abstract namespace ("@name"), as systemd uses.
class NotifySocket {
public:
    NotifySocket() : name_("@sockhost-test-notify-" + std::to_string(::getpid())) {
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path + 1, name_.data() + 1, name_.size() - 1);
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
        if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&address), length) != 0)
            throw std::runtime_error(std::string("bind notify socket: ") + std::strerror(errno));
    }
    const std::string &name() const { return name_; }

    // Every message until one contains `wanted` (returned), or "" after `timeout`.
    std::string wait_for(const std::string &wanted, std::string &seen, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd readable{fd_.get(), POLLIN, 0};
            if (::poll(&readable, 1, 100) <= 0) continue;
            char buffer[4096];
            const ssize_t count = ::recv(fd_.get(), buffer, sizeof buffer, 0);
            if (count <= 0) continue;
            const std::string message(buffer, static_cast<std::size_t>(count));
            seen += "[" + message + "] ";
            if (message.find(wanted) != std::string::npos) return message;
        }
        return "";
    }

private:
    std::string name_;
    UniqueFd fd_;
};

TEST(Systemd, SocketActivationMatchesByNameAndByAddressAndNotifies) {
    ASSERT_TRUE(std::filesystem::exists(kActivate)) << kActivate << " is missing: scripts/install-deps installs systemd";
    TempDir scratch;
    NotifySocket notify;
    const std::uint16_t port = free_tcp_port();
    const std::uint16_t unclaimed_port = free_tcp_port();
    const auto unix_path = scratch / "activated.sock";
    const nlohmann::json config = {
        {"listeners",
         {{{"listen", "tcp://127.0.0.1:0"}, {"name", "web"}, {"plugin", "probe"}, {"mode", "threading"}},
          {{"listen", "unix:" + unix_path.string()}, {"plugin", "probe"}}}}};
    const Launch launch{{kActivate, "-l", "127.0.0.1:" + std::to_string(port), "-l", unix_path.string(), "-l",
                         "127.0.0.1:" + std::to_string(unclaimed_port), "--fdname=web:other:extra", "-E",
                         "NOTIFY_SOCKET=" + notify.name(), "--"},
                        {},
                        {}};
    // systemd-socket-activate starts the service at the first connection: this one.
    auto first = std::async(std::launch::async, [&] {
        for (int attempt = 0; attempt < 500; ++attempt) {
            try {
                return stream_exchange("tcp://127.0.0.1:" + std::to_string(port), "echo first\n");
            } catch (const std::runtime_error &) {
                std::this_thread::sleep_for(10ms);  // not listening yet
            }
        }
        return std::string("(never connected)");
    });
    HostUnderTest host(config, {test_plugin("probe")}, launch);
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(first.get(), "first\n") << "the connection that started the service was served";

    const std::string tcp_address = "tcp://127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(host.listening().at(0), tcp_address) << "the activated socket, matched by name";
    EXPECT_TRUE(host.wait_for_log("using the activated socket 'web' for " + tcp_address)) << host.log();
    EXPECT_TRUE(host.wait_for_log("using the activated socket 'other' for unix:" + unix_path.string()))
        << "matched by address: " << host.log();
    EXPECT_TRUE(host.wait_for_log("('extra'): no configured listener matches it by name or address")) << host.log();
    EXPECT_EQ(stream_exchange("unix:" + unix_path.string(), "echo unix\n"), "unix\n");

    std::string seen;
    EXPECT_NE(notify.wait_for("READY=1", seen), "") << seen;
    EXPECT_NE(seen.find("STATUS=generation 1 serving 2 listener(s)"), std::string::npos) << seen;

    ::kill(host.pid(), SIGHUP);
    const std::string reloading = notify.wait_for("RELOADING=1", seen);
    EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos) << seen;
    EXPECT_NE(notify.wait_for("READY=1", seen), "") << seen;
    EXPECT_NE(seen.find("STATUS=generation 2 serving"), std::string::npos) << seen;
    EXPECT_EQ(stream_exchange(tcp_address, "echo after\n"), "after\n") << "the same activated socket serves on";

    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    EXPECT_NE(notify.wait_for("STOPPING=1", seen), "") << seen;
    EXPECT_EQ(host.log().find("NOTIFY_SOCKET"), std::string::npos) << "no notification failed: " << host.log();
}

}  // namespace
}  // namespace sockhost::test
