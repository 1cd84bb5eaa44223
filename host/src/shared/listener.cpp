#include <sockhost/host/shared/listener.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace sockhost {

namespace {

int socket_type(Transport transport) { return is_datagram(transport) ? SOCK_DGRAM : SOCK_STREAM; }

// Makes room for a Unix socket at `path`: a stale socket file (nobody accepts on it) is
// removed; anything else is an error and left alone.
Result<void> clear_stale_unix_path(const ListenAddress &address, const SocketAddress &socket_address) {
    struct stat status {};
    if (lstat(address.path.c_str(), &status) != 0) {
        if (errno == ENOENT) return {};
        return fail_errno(address.text() + ": cannot inspect socket path");
    }
    if (!S_ISSOCK(status.st_mode))
        return fail(address.text() + ": path exists and is not a socket; not removing it");
    UniqueFd probe(::socket(AF_UNIX, socket_type(address.transport) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe) return fail_errno(address.text() + ": socket");
    if (::connect(probe.get(), socket_address.get(), socket_address.length) == 0 || errno == EAGAIN ||
        errno == EINPROGRESS)
        return fail(address.text() + ": address in use: a server is accepting on this socket");
    if (errno != ECONNREFUSED)
        return fail_errno(address.text() + ": cannot tell whether the existing socket is in use");
    if (::unlink(address.path.c_str()) != 0 && errno != ENOENT)
        return fail_errno(address.text() + ": cannot remove stale socket file");
    return {};
}

Result<void> set_flag(int fd, int level, int option, const std::string &what) {
    const int on = 1;
    if (::setsockopt(fd, level, option, &on, sizeof on) != 0) return fail_errno(what);
    return {};
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
    return text;
}

// Linux creates a Unix socket's file with the socket's own (inode) mode minus the umask.
// So the mode is given to the socket before bind, and the umask is 0 during bind: the
// file has exactly that mode from its first moment, and no chmod on the path (which would
// follow a symlink swapped in after bind) is needed. The umask is per process: a thread
// creating files at the same moment would get it too, so binding happens before the host
// starts threads.
class ClearedUmask {
public:
    ClearedUmask() : saved_(::umask(0)) {}
    ~ClearedUmask() { ::umask(saved_); }
    ClearedUmask(const ClearedUmask &) = delete;
    ClearedUmask &operator=(const ClearedUmask &) = delete;

    mode_t saved() const { return saved_; }

private:
    mode_t saved_;
};

// Without socket_mode: the mode bind would give (0777 minus the umask) without the group's
// and others' write bits, whatever the umask. Connecting needs write permission, so only
// the host's user may connect (as under the usual umask 022, whose file is unchanged);
// a umask of 000 or 002 no longer lets every local user, or the whole group, in.
mode_t default_socket_mode(mode_t umask) { return 0777 & ~(umask | 0022); }

// Gives the socket its file's mode, then binds it with the umask cleared (see above).
Result<void> bind_unix_socket(int fd, const ListenAddress &address, const SocketAddress &socket_address,
                              const BindOptions &options) {
    const ClearedUmask umask;
    const mode_t mode = options.socket_mode.value_or(default_socket_mode(umask.saved()));
    if (::fchmod(fd, mode) != 0)
        return fail_errno(address.text() + ": " + (options.socket_mode ? "socket_mode " : "default socket mode ") +
                          octal_mode(mode) + ": cannot change the socket's mode");
    if (::bind(fd, socket_address.get(), socket_address.length) != 0) {
        if (errno == EADDRINUSE) return fail(address.text() + ": address in use");
        return fail_errno(address.text() + ": bind");
    }
    return {};
}

// socket_owner on the socket file just bound. lchown: a symlink swapped in at the path is
// changed itself, never the file it points to. A stream socket does not listen yet, so
// nobody connects before it has its owner; a datagram socket may meanwhile be sent to by
// those socket_mode lets in as the host's own user and group.
Result<void> apply_socket_owner(const ListenAddress &address, const BindOptions &options) {
    if (!options.socket_owner) return {};
    const auto &owner = *options.socket_owner;
    if (::lchown(address.path.c_str(), owner.uid, owner.gid.value_or(static_cast<gid_t>(-1))) != 0)
        return fail_errno(address.text() + ": socket_owner '" + owner.text + "': cannot change the socket's owner");
    return {};
}

}  // namespace

Result<ListenerSocket> ListenerSocket::bind(const ListenAddress &address, const BindOptions &options) {
    auto socket_address = resolve_listen_address(address);
    if (!socket_address) return std::unexpected(socket_address.error());

    ListenerSocket listener;
    listener.address_ = address;
    // Non-blocking: another process may accept from the same socket (a later generation,
    // systemd), so readiness seen by poll() may be gone by the time accept() runs.
    listener.fd_ = UniqueFd(
        ::socket(socket_address->family(), socket_type(address.transport) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener.fd_) return fail_errno(address.text() + ": socket");
    const int fd = listener.fd_.get();

    if (is_inet(address.transport)) {
        if (options.reuse_address) {
            if (auto result = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, address.text() + ": SO_REUSEADDR"); !result)
                return std::unexpected(result.error());
        }
        if (options.reuse_port) {
            if (auto result = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, address.text() + ": SO_REUSEPORT"); !result)
                return std::unexpected(result.error());
        }
        if (socket_address->family() == AF_INET6) {
            // "[::]" serves IPv6 only; an IPv4 listener is configured on its own.
            if (auto result = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, address.text() + ": IPV6_V6ONLY"); !result)
                return std::unexpected(result.error());
        }
    } else {
        if (auto cleared = clear_stale_unix_path(address, *socket_address); !cleared)
            return std::unexpected(cleared.error());
    }

    if (is_inet(address.transport)) {
        if (::bind(fd, socket_address->get(), socket_address->length) != 0) {
            if (errno == EADDRINUSE) return fail(address.text() + ": address in use");
            return fail_errno(address.text() + ": bind");
        }
    } else if (auto bound = bind_unix_socket(fd, address, *socket_address, options); !bound) {
        return std::unexpected(bound.error());
    }
    if (!is_inet(address.transport)) {
        struct stat status {};
        if (::stat(address.path.c_str(), &status) == 0) {
            listener.owns_path_ = true;
            listener.path_device_ = status.st_dev;
            listener.path_inode_ = status.st_ino;
        }
        if (auto owned = apply_socket_owner(address, options); !owned) return std::unexpected(owned.error());
    }
    if (!is_datagram(address.transport) && ::listen(fd, options.request_queue_size) != 0)
        return fail_errno(address.text() + ": listen");

    listener.local_.length = sizeof listener.local_.storage;
    if (::getsockname(fd, listener.local_.get(), &listener.local_.length) != 0)
        return fail_errno(address.text() + ": getsockname");
    return listener;
}

Result<ListenerSocket> ListenerSocket::adopt(UniqueFd fd, const ListenAddress &address) {
    ListenerSocket listener;
    listener.address_ = address;
    listener.fd_ = std::move(fd);
    int type = 0;
    socklen_t type_length = sizeof type;
    if (::getsockopt(listener.fd_.get(), SOL_SOCKET, SO_TYPE, &type, &type_length) != 0)
        return fail_errno(address.text() + ": inherited fd " + std::to_string(listener.fd_.get()) + " is not a socket");
    if (type != socket_type(address.transport))
        return fail(address.text() + ": inherited fd " + std::to_string(listener.fd_.get()) +
                    " is a socket of another type");
    listener.local_.length = sizeof listener.local_.storage;
    if (::getsockname(listener.fd_.get(), listener.local_.get(), &listener.local_.length) != 0)
        return fail_errno(address.text() + ": getsockname");
    const int family = listener.local_.family();
    if (is_inet(address.transport) ? (family != AF_INET && family != AF_INET6) : family != AF_UNIX)
        return fail(address.text() + ": inherited fd " + std::to_string(listener.fd_.get()) +
                    " is a socket of another family");
    return listener;
}

bool ListenerSocket::matches(int fd, const ListenAddress &address) {
    int type = 0;
    socklen_t type_length = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) != 0 || type != socket_type(address.transport))
        return false;
    SocketAddress local;
    local.length = sizeof local.storage;
    if (::getsockname(fd, local.get(), &local.length) != 0) return false;
    if (!is_inet(address.transport)) {
        if (local.family() != AF_UNIX) return false;
        const auto *unix_address = reinterpret_cast<const sockaddr_un *>(&local.storage);
        return std::string(unix_address->sun_path) == address.path;
    }
    auto wanted = resolve_listen_address(address);
    if (!wanted || wanted->family() != local.family()) return false;
    if (local.family() == AF_INET) {
        const auto *have = reinterpret_cast<const sockaddr_in *>(&local.storage);
        const auto *want = reinterpret_cast<const sockaddr_in *>(&wanted->storage);
        return have->sin_addr.s_addr == want->sin_addr.s_addr && (want->sin_port == 0 || have->sin_port == want->sin_port);
    }
    if (local.family() == AF_INET6) {
        const auto *have = reinterpret_cast<const sockaddr_in6 *>(&local.storage);
        const auto *want = reinterpret_cast<const sockaddr_in6 *>(&wanted->storage);
        return std::memcmp(&have->sin6_addr, &want->sin6_addr, sizeof have->sin6_addr) == 0 &&
               (want->sin6_port == 0 || have->sin6_port == want->sin6_port);
    }
    return false;
}

ListenerSocket &ListenerSocket::operator=(ListenerSocket &&other) noexcept {
    if (this != &other) {
        remove_own_path();
        fd_ = std::move(other.fd_);
        address_ = std::move(other.address_);
        local_ = other.local_;
        owns_path_ = std::exchange(other.owns_path_, false);
        path_device_ = other.path_device_;
        path_inode_ = other.path_inode_;
    }
    return *this;
}

ListenerSocket::~ListenerSocket() { remove_own_path(); }

void ListenerSocket::remove_own_path() noexcept {
    if (!owns_path_ || !fd_) return;
    // Remove the socket file only if it is still the one this process bound.
    struct stat status {};
    if (::lstat(address_.path.c_str(), &status) == 0 && status.st_dev == path_device_ && status.st_ino == path_inode_)
        ::unlink(address_.path.c_str());
}

std::string ListenerSocket::bound_text() const {
    if (!is_inet(address_.transport)) return address_.text();
    return std::string(transport_name(address_.transport)) + "://" + format_address(local_);
}

}  // namespace sockhost
