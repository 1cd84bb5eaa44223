// An allow/deny entry ("10.0.0.0/8", "::1"). What is accepted holds no NUL byte (inet_pton
// would stop reading there) and contains the address it was written with; an IPv4 block
// matches that address as an IPv4-mapped IPv6 peer too. (An IPv6 block shorter than /96
// written with a mapped address, "::ffff:10.0.0.1/64", is the exception: mapped peers are
// matched as IPv4.)
#include <sockhost/host/shared/access_list.hpp>

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

sockhost::SocketAddress peer_at(const sockhost::Cidr &cidr, bool mapped) {
    sockhost::SocketAddress peer;
    if (cidr.family == AF_INET && !mapped) {
        auto *inet = reinterpret_cast<sockaddr_in *>(&peer.storage);
        inet->sin_family = AF_INET;
        std::memcpy(&inet->sin_addr, cidr.bytes.data(), 4);
        peer.length = sizeof *inet;
        return peer;
    }
    auto *inet6 = reinterpret_cast<sockaddr_in6 *>(&peer.storage);
    inet6->sin6_family = AF_INET6;
    if (cidr.family == AF_INET6) {
        std::memcpy(inet6->sin6_addr.s6_addr, cidr.bytes.data(), 16);
    } else {
        inet6->sin6_addr.s6_addr[10] = 0xff;
        inet6->sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(inet6->sin6_addr.s6_addr + 12, cidr.bytes.data(), 4);
    }
    peer.length = sizeof *inet6;
    return peer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const auto cidr = sockhost::parse_cidr(text);
    if (!cidr) return 0;
    if (text.find('\0') != std::string_view::npos) std::abort();
    if (cidr->prefix_length < 0 || cidr->prefix_length > (cidr->family == AF_INET ? 32 : 128)) std::abort();
    const sockhost::SocketAddress own = peer_at(*cidr, false);
    if (cidr->family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6 *>(&own.storage)->sin6_addr))
        return 0;
    sockhost::AccessList list;
    list.allow.push_back(*cidr);
    if (!list.permits(own)) std::abort();
    if (cidr->family == AF_INET && !list.permits(peer_at(*cidr, true))) std::abort();
    list.deny.push_back(*cidr);  // deny wins over allow
    if (list.permits(own)) std::abort();
    return 0;
}
