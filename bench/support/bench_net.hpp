// Small helpers shared by the benchmark tools: endpoints in the host's address syntax,
// socket options, the descriptor limit and a monotonic clock in nanoseconds.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bench {

using sockhost::UniqueFd;

// A target or listen address ("tcp://127.0.0.1:9000", "unix:/tmp/x.sock", ...) resolved.
struct Endpoint {
    sockhost::Transport transport = sockhost::Transport::tcp;
    sockhost::SocketAddress address;
    std::string text;

    bool datagram() const { return sockhost::is_datagram(transport); }
    bool inet() const { return sockhost::is_inet(transport); }
    int family() const { return address.family(); }
    int socket_type() const { return datagram() ? SOCK_DGRAM : SOCK_STREAM; }
};

[[noreturn]] inline void die(const std::string &message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::exit(2);
}

inline Endpoint parse_endpoint(std::string_view text) {
    auto listen = sockhost::parse_listen_address(text);
    if (!listen) die(std::string(text) + ": " + listen.error().message);
    auto address = sockhost::resolve_listen_address(*listen);
    if (!address) die(std::string(text) + ": " + address.error().message);
    return Endpoint{listen->transport, *address, std::string(text)};
}

inline void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

inline void set_nodelay(int fd) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Raises the descriptor limit: the idle-connection row needs 10,000+. Root may raise the
// hard limit too; others get their hard limit.
inline rlim_t raise_descriptor_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 65536) {
        const rlimit wanted{65536, 65536};
        if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) return wanted.rlim_cur;
    }
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur;
}

inline std::uint64_t now_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

// A listening socket bound to `endpoint` (a stale Unix socket path is removed first).
inline UniqueFd listen_on(const Endpoint &endpoint, int backlog = 4096) {
    UniqueFd fd(::socket(endpoint.family(), endpoint.socket_type() | SOCK_CLOEXEC, 0));
    if (!fd) die(endpoint.text + ": socket failed");
    const int one = 1;
    if (endpoint.inet()) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!endpoint.inet()) {
        const auto &unix_address = reinterpret_cast<const sockaddr_un &>(endpoint.address.storage);
        ::unlink(unix_address.sun_path);
    }
    if (::bind(fd.get(), endpoint.address.get(), endpoint.address.length) != 0) {
        std::perror(("bind " + endpoint.text).c_str());
        std::exit(2);
    }
    if (!endpoint.datagram() && ::listen(fd.get(), backlog) != 0) {
        std::perror(("listen " + endpoint.text).c_str());
        std::exit(2);
    }
    return fd;
}

}  // namespace bench
