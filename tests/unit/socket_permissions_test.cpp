// socket_mode and socket_owner on a bound Unix socket file, with ListenerSocket alone.
#include "temp_dir.hpp"

#include <sockhost/host/shared/listener.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace sockhost::test {
namespace {

mode_t current_umask() {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
}

ListenAddress unix_address(const std::filesystem::path &path, Transport transport = Transport::unix_stream) {
    auto address = parse_listen_address(std::string(transport == Transport::unix_stream ? "unix:" : "unix-dgram:") +
                                        path.string());
    EXPECT_TRUE(address);
    return *address;
}

TEST(UnixSocketFilePermissions, ModeIsSetAndTheUmaskRestored) {
    TempDir dir;
    const mode_t before = current_umask();
    BindOptions options;
    options.socket_mode = 0640;
    const auto path = dir / "s.sock";
    auto socket = ListenerSocket::bind(unix_address(path), options);
    ASSERT_TRUE(socket) << socket.error().message;
    struct stat status {};
    ASSERT_EQ(::stat(path.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0640u);
    EXPECT_EQ(current_umask(), before);

    // A failed bind restores it too.
    auto in_use = ListenerSocket::bind(unix_address(path), options);
    ASSERT_FALSE(in_use);
    EXPECT_EQ(current_umask(), before);
}

TEST(UnixSocketFilePermissions, ModeMayOpenWiderThanTheUmask) {
    TempDir dir;
    const mode_t before = ::umask(0077);
    BindOptions options;
    options.socket_mode = 0666;
    const auto path = dir / "d.sock";
    auto socket = ListenerSocket::bind(unix_address(path, Transport::unix_dgram), options);
    ::umask(before);
    ASSERT_TRUE(socket) << socket.error().message;
    struct stat status {};
    ASSERT_EQ(::stat(path.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0666u);
}

TEST(UnixSocketFilePermissions, OwnerThatCannotBeSetIsAnErrorNamingTheSocket) {
    if (::geteuid() == 0) GTEST_SKIP() << "root can give the socket to anyone";
    TempDir dir;
    BindOptions options;
    options.socket_owner = SocketOwner{::geteuid() == 1 ? 2u : 1u, std::nullopt, "someone"};
    const auto path = dir / "o.sock";
    auto socket = ListenerSocket::bind(unix_address(path), options);
    ASSERT_FALSE(socket);
    EXPECT_EQ(socket.error().message,
              "unix:" + path.string() + ": socket_owner 'someone': cannot change the socket's owner: Operation not permitted");
    EXPECT_FALSE(std::filesystem::exists(path)) << "the failed listener removes its socket file";
}

}  // namespace
}  // namespace sockhost::test
