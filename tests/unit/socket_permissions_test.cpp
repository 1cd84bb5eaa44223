// socket_mode and socket_owner on a bound Unix socket file, with ListenerSocket alone.
#include "temp_dir.hpp"

#include <sockhost/host/shared/listener.hpp>

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace sockhost::test {
namespace {

// While set, the bind() below swaps a symlink in at this path the moment the socket file
// appears there: the attack of a user who may write the socket's directory, at the
// earliest moment it is possible, every time instead of once in a lucky race.
const char *symlink_planted_after_bind = nullptr;
const char *symlink_planted_target = nullptr;

}  // namespace
}  // namespace sockhost::test

// Interposes libc's bind for this test binary (the core is linked in statically); every
// other caller gets the real bind unchanged.
extern "C" int bind(int fd, const sockaddr *address, socklen_t length) noexcept {
    using Bind = int (*)(int, const sockaddr *, socklen_t);
    static const auto real_bind = reinterpret_cast<Bind>(::dlsym(RTLD_NEXT, "bind"));
    const int result = real_bind(fd, address, length);
    const char *planted_at = sockhost::test::symlink_planted_after_bind;
    if (result == 0 && planted_at != nullptr && address->sa_family == AF_UNIX &&
        std::strncmp(reinterpret_cast<const sockaddr_un *>(address)->sun_path, planted_at, sizeof(sockaddr_un::sun_path)) ==
            0) {
        // rename() replaces the socket file at once, as an attacker would.
        const std::string staged = std::string(planted_at) + ".planted";
        if (::symlink(sockhost::test::symlink_planted_target, staged.c_str()) != 0 ||
            ::rename(staged.c_str(), planted_at) != 0)
            std::abort();
    }
    return result;
}

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

TEST(UnixSocketFilePermissions, ModeIsExactUnderAnyUmask) {
    TempDir dir;
    for (const mode_t umask : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0777}}) {
        for (const Transport transport : {Transport::unix_stream, Transport::unix_dgram}) {
            const mode_t before = ::umask(umask);
            BindOptions options;
            options.socket_mode = 0640;
            const auto path = dir / "m.sock";
            auto socket = ListenerSocket::bind(unix_address(path, transport), options);
            ::umask(before);
            ASSERT_TRUE(socket) << socket.error().message;
            struct stat status {};
            ASSERT_EQ(::stat(path.c_str(), &status), 0);
            EXPECT_EQ(status.st_mode & 07777, 0640u) << "umask " << std::oct << umask;
        }
    }
}

// Without a mode the umask's read and execute bits stay as bind would leave them, but the
// group and others never get write permission, which is what connecting needs: a umask
// of 000 or 002 lets nobody else in.
TEST(UnixSocketFilePermissions, WithoutAModeOnlyTheOwnerMayWriteUnderAnyUmask) {
    TempDir dir;
    for (const mode_t umask : {mode_t{022}, mode_t{077}, mode_t{002}, mode_t{000}}) {
        const mode_t before = ::umask(umask);
        const auto path = dir / "u.sock";
        auto socket = ListenerSocket::bind(unix_address(path), BindOptions{});
        EXPECT_EQ(current_umask(), umask) << "the umask is restored after bind";
        ::umask(before);
        ASSERT_TRUE(socket) << socket.error().message;
        struct stat status {};
        ASSERT_EQ(::stat(path.c_str(), &status), 0);
        EXPECT_EQ(status.st_mode & 07777, 0777u & ~(umask | 022u)) << "umask " << std::oct << umask;
    }
}

// The reported race: the socket file is replaced by a symlink to a file the attacker may
// not change, between bind and the steps that set the socket's mode and owner. Neither
// step may reach the file the symlink points to.
TEST(UnixSocketFilePermissions, ASymlinkSwappedInAfterBindIsNeverFollowed) {
    TempDir dir;
    const auto victim = dir / "victim";
    { std::ofstream{victim} << "not a socket"; }
    ASSERT_EQ(::chmod(victim.c_str(), 0600), 0);
    struct stat victim_before {};
    ASSERT_EQ(::stat(victim.c_str(), &victim_before), 0);

    BindOptions options;
    options.socket_mode = 0666;
    // Root gives the socket to another user; anyone else can only give it to themselves,
    // which still runs the owner step on the symlink.
    options.socket_owner = ::geteuid() == 0 ? SocketOwner{65534u, gid_t{65534}, "nobody:nogroup"}
                                             : SocketOwner{::geteuid(), ::getegid(), "self"};
    const auto path = dir / "s.sock";
    symlink_planted_after_bind = path.c_str();
    symlink_planted_target = victim.c_str();
    auto socket = ListenerSocket::bind(unix_address(path), options);
    symlink_planted_after_bind = nullptr;
    ASSERT_TRUE(socket) << socket.error().message;
    ASSERT_TRUE(std::filesystem::is_symlink(path)) << "the symlink was planted";

    struct stat victim_after {};
    ASSERT_EQ(::stat(victim.c_str(), &victim_after), 0);
    EXPECT_EQ(victim_after.st_mode & 07777, 0600u) << "socket_mode reached the symlink's target";
    EXPECT_EQ(victim_after.st_uid, victim_before.st_uid) << "socket_owner reached the symlink's target";
    EXPECT_EQ(victim_after.st_gid, victim_before.st_gid) << "socket_owner reached the symlink's target";
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
