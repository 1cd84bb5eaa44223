// The listener's allow/deny address lists (CIDR), checked before the plugin's verify hook.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/error.hpp>

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sockhost {

struct Cidr {
    int family = 0;                       // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};  // network order; 4 used for AF_INET
    int prefix_length = 0;

    bool contains(const SocketAddress &address) const;
};

// "10.0.0.0/8", "192.168.1.7" (a /32), "::1", "fd00::/8".
Result<Cidr> parse_cidr(std::string_view text);

struct AccessList {
    std::vector<Cidr> allow;  // empty: everyone not denied
    std::vector<Cidr> deny;   // checked first: deny wins over allow
    // Unix stream listeners: the peer process's uid, or its gid, must be listed (as the
    // kernel recorded them at connect, SO_PEERCRED); both empty: any.
    std::vector<uid_t> allow_users;
    std::vector<gid_t> allow_groups;

    bool empty() const { return allow.empty() && deny.empty(); }
    bool permits(const SocketAddress &peer) const;
    bool checks_credentials() const { return !allow_users.empty() || !allow_groups.empty(); }
    bool permits_credentials(uid_t uid, gid_t gid) const;
};

}  // namespace sockhost
