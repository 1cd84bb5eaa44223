#include <sockhost/host/shared/address.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sockhost {

static_assert(kUnixPathCapacity == sizeof(sockaddr_un::sun_path));

sockhost_transport to_abi(Transport transport) {
    switch (transport) {
    case Transport::tcp: return SOCKHOST_TRANSPORT_TCP;
    case Transport::udp: return SOCKHOST_TRANSPORT_UDP;
    case Transport::unix_stream: return SOCKHOST_TRANSPORT_UNIX_STREAM;
    case Transport::unix_dgram: return SOCKHOST_TRANSPORT_UNIX_DGRAM;
    }
    return SOCKHOST_TRANSPORT_TCP;
}

std::string_view transport_name(Transport transport) {
    switch (transport) {
    case Transport::tcp: return "tcp";
    case Transport::udp: return "udp";
    case Transport::unix_stream: return "unix";
    case Transport::unix_dgram: return "unix-dgram";
    }
    return "?";
}

std::string ListenAddress::text() const {
    if (!is_inet(transport)) return std::string(transport_name(transport)) + ":" + path;
    const bool v6 = host.find(':') != std::string::npos;
    return std::string(transport_name(transport)) + "://" + (v6 ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
}

namespace {

Result<ListenAddress> parse_inet(Transport transport, std::string_view original, std::string_view rest) {
    ListenAddress address;
    address.transport = transport;
    std::string_view port_text;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos)
            return fail("listen address '" + std::string(original) + "': missing ']' after IPv6 host");
        address.host = std::string(rest.substr(1, close - 1));
        if (address.host.empty())
            return fail("listen address '" + std::string(original) + "': empty IPv6 host");
        if (close + 1 >= rest.size() || rest[close + 1] != ':')
            return fail("listen address '" + std::string(original) + "': missing ':PORT' after ']'");
        port_text = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos)
            return fail("listen address '" + std::string(original) + "': missing ':PORT'");
        address.host = std::string(rest.substr(0, colon));
        if (address.host.find(':') != std::string::npos)
            return fail("listen address '" + std::string(original) + "': write IPv6 hosts in brackets, as [::1]");
        port_text = rest.substr(colon + 1);
    }
    // Else the text form would not read back: "[[::1]:53" would print as "[[::1:53".
    if (address.host.find_first_of("[]") != std::string::npos)
        return fail("listen address '" + std::string(original) + "': '[' and ']' only enclose an IPv6 host, as [::1]");
    unsigned port = 0;
    const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
        return fail("listen address '" + std::string(original) + "': port '" + std::string(port_text) +
                    "' is not a number from 0 to 65535");
    address.port = static_cast<std::uint16_t>(port);
    if (address.host == "*") address.host.clear();
    // Digits and dots only is meant as an IPv4 address, never a name to look up:
    // "999.1.1.1" or "127.1" is a mistake, not a host.
    in_addr ipv4{};
    if (!address.host.empty() && address.host.find_first_not_of("0123456789.") == std::string::npos &&
        ::inet_pton(AF_INET, address.host.c_str(), &ipv4) != 1)
        return fail("listen address '" + std::string(original) + "': '" + address.host +
                    "' is not an IPv4 address (four numbers from 0 to 255, as 127.0.0.1)");
    return address;
}

Result<ListenAddress> parse_unix(Transport transport, std::string_view original, std::string_view path) {
    if (path.empty()) return fail("listen address '" + std::string(original) + "': empty socket path");
    if (path.size() >= kUnixPathCapacity)
        return fail("listen address '" + std::string(original) + "': socket path longer than " +
                    std::to_string(kUnixPathCapacity - 1) + " bytes");
    ListenAddress address;
    address.transport = transport;
    address.path = std::string(path);
    return address;
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
    // getaddrinfo, bind and unlink would stop reading at a NUL byte (JSON's "\u0000").
    if (const auto nul = text.find('\0'); nul != std::string_view::npos)
        return fail("listen address '" + std::string(text.substr(0, nul)) + "...' has a NUL byte");
    if (text.starts_with("tcp://")) return parse_inet(Transport::tcp, text, text.substr(6));
    if (text.starts_with("udp://")) return parse_inet(Transport::udp, text, text.substr(6));
    if (text.starts_with("unix-dgram:")) return parse_unix(Transport::unix_dgram, text, text.substr(11));
    if (text.starts_with("unix:")) return parse_unix(Transport::unix_stream, text, text.substr(5));
    return fail("listen address '" + std::string(text) +
                "': unknown scheme (use tcp://HOST:PORT, udp://HOST:PORT, unix:PATH or unix-dgram:PATH)");
}

std::string format_address(const SocketAddress &address) {
    char text[INET6_ADDRSTRLEN] = {};
    switch (address.family()) {
    case AF_INET: {
        const auto *inet = reinterpret_cast<const sockaddr_in *>(&address.storage);
        inet_ntop(AF_INET, &inet->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(inet->sin_port));
    }
    case AF_INET6: {
        const auto *inet6 = reinterpret_cast<const sockaddr_in6 *>(&address.storage);
        inet_ntop(AF_INET6, &inet6->sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(inet6->sin6_port));
    }
    case AF_UNIX: {
        const auto *local = reinterpret_cast<const sockaddr_un *>(&address.storage);
        const auto path_length = std::min<std::size_t>(address.length > offsetof(sockaddr_un, sun_path)
                                                           ? address.length - offsetof(sockaddr_un, sun_path)
                                                           : 0,
                                                       sizeof local->sun_path);
        if (path_length == 0 || (local->sun_path[0] == '\0' && path_length == 1)) return "unix:(unbound)";
        if (local->sun_path[0] == '\0')  // abstract namespace: shown with a leading '@'
            return "unix:@" + std::string(local->sun_path + 1, strnlen(local->sun_path + 1, path_length - 1));
        return "unix:" + std::string(local->sun_path, strnlen(local->sun_path, path_length));
    }
    default: return "(unknown address family " + std::to_string(address.family()) + ")";
    }
}

bool same_port_overlapping(const SocketAddress &first, const SocketAddress &second) {
    if (first.family() != second.family()) return false;
    if (first.family() == AF_INET) {
        const auto &a = *reinterpret_cast<const sockaddr_in *>(&first.storage);
        const auto &b = *reinterpret_cast<const sockaddr_in *>(&second.storage);
        const auto any = htonl(INADDR_ANY);
        return a.sin_port == b.sin_port &&
               (a.sin_addr.s_addr == b.sin_addr.s_addr || a.sin_addr.s_addr == any || b.sin_addr.s_addr == any);
    }
    if (first.family() == AF_INET6) {
        const auto &a = *reinterpret_cast<const sockaddr_in6 *>(&first.storage);
        const auto &b = *reinterpret_cast<const sockaddr_in6 *>(&second.storage);
        return a.sin6_port == b.sin6_port &&
               (IN6_ARE_ADDR_EQUAL(&a.sin6_addr, &b.sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr) ||
                IN6_IS_ADDR_UNSPECIFIED(&b.sin6_addr));
    }
    return false;
}

Result<SocketAddress> resolve_listen_address(const ListenAddress &listen) {
    SocketAddress address;
    if (!is_inet(listen.transport)) {
        if (listen.path.size() >= kUnixPathCapacity)
            return fail(listen.text() + ": socket path longer than " + std::to_string(kUnixPathCapacity - 1) + " bytes");
        auto *local = reinterpret_cast<sockaddr_un *>(&address.storage);
        local->sun_family = AF_UNIX;
        std::memcpy(local->sun_path, listen.path.c_str(), listen.path.size() + 1);
        address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + listen.path.size() + 1);
        return address;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = listen.transport == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *found = nullptr;
    const std::string port = std::to_string(listen.port);
    // An empty host ("*") is IPv4's any address; "[::]" is written for IPv6's.
    const std::string host = listen.host.empty() ? "0.0.0.0" : listen.host;
    const int status = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (status != 0)
        return fail("listen address '" + listen.text() + "': cannot resolve host: " + gai_strerror(status));
    std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
    address.length = found->ai_addrlen;
    freeaddrinfo(found);
    return address;
}

}  // namespace sockhost
