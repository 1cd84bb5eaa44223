// Listener addresses ("tcp://127.0.0.1:8080", "udp://[::1]:53", "unix:PATH",
// "unix-dgram:PATH"), socket addresses and their printable form.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/plugin.h>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockhost {

enum class Transport { tcp, udp, unix_stream, unix_dgram };

// sun_path's size: a Unix socket path holds at most one byte less.
inline constexpr std::size_t kUnixPathCapacity = 108;

constexpr bool is_datagram(Transport transport) {
    return transport == Transport::udp || transport == Transport::unix_dgram;
}
constexpr bool is_inet(Transport transport) {
    return transport == Transport::tcp || transport == Transport::udp;
}
sockhost_transport to_abi(Transport transport);
std::string_view transport_name(Transport transport);

struct ListenAddress {
    Transport transport = Transport::tcp;
    std::string host;  // inet: numeric address or name; "" means any
    std::uint16_t port = 0;
    std::string path;  // unix

    std::string text() const;  // back in the "scheme://host:port" / "unix:path" form
};

// Parses the `listen` string; the error says which part is wrong.
Result<ListenAddress> parse_listen_address(std::string_view text);

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    // A Unix client that bound no path: nothing can be sent back to it.
    static SocketAddress unbound_unix() {
        SocketAddress address;
        address.storage.ss_family = AF_UNIX;
        address.length = sizeof(sa_family_t);
        return address;
    }
    bool is_unbound_unix() const { return family() == AF_UNIX && length <= sizeof(sa_family_t); }

    const sockaddr *get() const { return reinterpret_cast<const sockaddr *>(&storage); }
    sockaddr *get() { return reinterpret_cast<sockaddr *>(&storage); }
    int family() const { return storage.ss_family; }
};

// "127.0.0.1:80", "[::1]:80", "unix:/run/x.sock", "unix:(unbound)".
std::string format_address(const SocketAddress &address);

// Two inet addresses of one family and port, equal or one of them the wildcard: binding
// both would leave one of them without traffic.
bool same_port_overlapping(const SocketAddress &first, const SocketAddress &second);

// The socket address to bind for an inet or unix listen address.
Result<SocketAddress> resolve_listen_address(const ListenAddress &address);

}  // namespace sockhost
