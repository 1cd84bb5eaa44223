// A request's sockhost_peer_identity (plugin.h, ABI 1.5), with the strings it points into:
// what a TLS handshake proved and agreed, and a Unix stream peer's credentials.
#pragma once

#include <sockhost/host/worker/tls_connection.hpp>
#include <sockhost/plugin.h>

#include <sys/socket.h>

#include <optional>
#include <vector>

namespace sockhost {

class PeerIdentity {
public:
    PeerIdentity(const std::optional<ucred> &credentials, const TlsPeer *tls);
    PeerIdentity(const PeerIdentity &) = delete;
    PeerIdentity &operator=(const PeerIdentity &) = delete;

    const sockhost_peer_identity &abi() const { return abi_; }
    // The one of a plain TCP connection or a datagram: flags 0.
    static const sockhost_peer_identity &none();

private:
    TlsPeer tls_;
    std::vector<const char *> alt_names_;
    sockhost_peer_identity abi_{};
};

// The peer process's credentials of a connected Unix stream socket, as the kernel recorded
// them at connect; none when it cannot tell.
std::optional<ucred> peer_credentials(int fd);

}  // namespace sockhost
