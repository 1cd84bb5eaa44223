#include <sockhost/host/shared/access_list.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

namespace sockhost {

namespace {

// The peer's address bytes; an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) counts as IPv4.
bool peer_bytes(const SocketAddress &address, int &family, std::array<std::uint8_t, 16> &bytes) {
    if (address.family() == AF_INET) {
        const auto *inet = reinterpret_cast<const sockaddr_in *>(&address.storage);
        family = AF_INET;
        std::memcpy(bytes.data(), &inet->sin_addr, 4);
        return true;
    }
    if (address.family() == AF_INET6) {
        const auto *inet6 = reinterpret_cast<const sockaddr_in6 *>(&address.storage);
        if (IN6_IS_ADDR_V4MAPPED(&inet6->sin6_addr)) {
            family = AF_INET;
            std::memcpy(bytes.data(), inet6->sin6_addr.s6_addr + 12, 4);
        } else {
            family = AF_INET6;
            std::memcpy(bytes.data(), inet6->sin6_addr.s6_addr, 16);
        }
        return true;
    }
    return false;
}

// An IPv4-mapped block (::ffff:a.b.c.d/96 and longer) as the IPv4 block it names: peers
// in that form are matched as IPv4 (peer_bytes), so as IPv6 it would match nobody.
void map_to_ipv4(Cidr &cidr) {
    static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (cidr.family != AF_INET6 || cidr.prefix_length < 96 ||
        !std::equal(std::begin(kMappedPrefix), std::end(kMappedPrefix), cidr.bytes.begin()))
        return;
    cidr.family = AF_INET;
    std::copy(cidr.bytes.begin() + 12, cidr.bytes.end(), cidr.bytes.begin());
    std::fill(cidr.bytes.begin() + 4, cidr.bytes.end(), 0);
    cidr.prefix_length -= 96;
}

}  // namespace

bool Cidr::contains(const SocketAddress &address) const {
    int peer_family = 0;
    std::array<std::uint8_t, 16> peer{};
    if (!peer_bytes(address, peer_family, peer) || peer_family != family) return false;
    const int full_bytes = prefix_length / 8;
    if (!std::equal(bytes.begin(), bytes.begin() + full_bytes, peer.begin())) return false;
    const int rest_bits = prefix_length % 8;
    if (rest_bits == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest_bits));
    return (bytes[full_bytes] & mask) == (peer[full_bytes] & mask);
}

Result<Cidr> parse_cidr(std::string_view text) {
    // inet_pton would stop reading at a NUL byte (JSON's "\u0000") and take what was before.
    if (text.find('\0') != std::string_view::npos)
        return fail("address '" + std::string(text.substr(0, text.find('\0'))) + "...' has a NUL byte");
    const auto slash = text.find('/');
    const std::string host(text.substr(0, slash));
    Cidr cidr;
    if (inet_pton(AF_INET, host.c_str(), cidr.bytes.data()) == 1) {
        cidr.family = AF_INET;
        cidr.prefix_length = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), cidr.bytes.data()) == 1) {
        cidr.family = AF_INET6;
        cidr.prefix_length = 128;
    } else {
        return fail("address '" + std::string(text) + "' is not an IPv4 or IPv6 address or CIDR block");
    }
    if (slash != std::string_view::npos) {
        const auto length_text = text.substr(slash + 1);
        int length = -1;
        const auto [end, error] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
        if (length_text.empty() || error != std::errc() || end != length_text.data() + length_text.size() ||
            length < 0 || length > cidr.prefix_length)
            return fail("address '" + std::string(text) + "': prefix length must be 0 to " +
                        std::to_string(cidr.prefix_length));
        cidr.prefix_length = length;
    }
    map_to_ipv4(cidr);
    return cidr;
}

bool AccessList::permits(const SocketAddress &peer) const {
    const auto matches = [&](const Cidr &cidr) { return cidr.contains(peer); };
    if (std::any_of(deny.begin(), deny.end(), matches)) return false;
    return allow.empty() || std::any_of(allow.begin(), allow.end(), matches);
}

bool AccessList::permits_credentials(uid_t uid, gid_t gid) const {
    if (!checks_credentials()) return true;
    return std::find(allow_users.begin(), allow_users.end(), uid) != allow_users.end() ||
           std::find(allow_groups.begin(), allow_groups.end(), gid) != allow_groups.end();
}

}  // namespace sockhost
