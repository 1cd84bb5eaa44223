#include <sockhost/host/worker/peer_identity.hpp>

namespace sockhost {

namespace {

sockhost_peer_identity empty_identity() {
    sockhost_peer_identity identity{};
    identity.struct_size = sizeof identity;
    identity.uid = identity.gid = identity.pid = -1;
    identity.subject = identity.verify_error = identity.alpn = identity.server_name = identity.tls_version =
        identity.tls_cipher = "";
    static const char *const kNoNames[] = {nullptr};
    identity.alt_names = kNoNames;
    return identity;
}

}  // namespace

const sockhost_peer_identity &PeerIdentity::none() {
    static const sockhost_peer_identity identity = empty_identity();
    return identity;
}

PeerIdentity::PeerIdentity(const std::optional<ucred> &credentials, const TlsPeer *tls) : abi_(empty_identity()) {
    if (credentials) {
        abi_.flags |= SOCKHOST_PEER_CREDENTIALS;
        abi_.uid = credentials->uid;
        abi_.gid = credentials->gid;
        abi_.pid = credentials->pid;
    }
    if (tls == nullptr) return;
    tls_ = *tls;
    abi_.flags |= SOCKHOST_PEER_TLS;
    if (tls_.presented_certificate) abi_.flags |= SOCKHOST_PEER_CERTIFICATE;
    if (tls_.verified) abi_.flags |= SOCKHOST_PEER_VERIFIED;
    if (tls_.resumed) abi_.flags |= SOCKHOST_PEER_RESUMED;
    abi_.subject = tls_.subject.c_str();
    for (const auto &name : tls_.alt_names) alt_names_.push_back(name.c_str());
    alt_names_.push_back(nullptr);  // a C reader may walk to the end as well as count
    abi_.alt_names = alt_names_.data();
    abi_.alt_name_count = tls_.alt_names.size();
    abi_.verify_error = tls_.verify_error.c_str();
    abi_.alpn = tls_.alpn.c_str();
    abi_.server_name = tls_.server_name.c_str();
    abi_.tls_version = tls_.version.c_str();
    abi_.tls_cipher = tls_.cipher.c_str();
}

std::optional<ucred> peer_credentials(int fd) {
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 || length != sizeof credentials)
        return std::nullopt;
    return credentials;
}

}  // namespace sockhost
