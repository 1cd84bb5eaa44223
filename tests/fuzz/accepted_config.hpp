// What an accepted configuration must hold, checked by the config and sidecar targets: no
// string the system reads as a C string (a path, a host, a name) has a NUL byte in it,
// where the system would stop reading, and every listener's address reads back from its
// text form.
#pragma once

#include <sockhost/host/shared/config.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace sockhost::fuzz {

inline bool has_nul(const std::string &text) { return text.find('\0') != std::string::npos; }

inline void check_accepted_listeners(const std::vector<ListenerConfig> &listeners) {
    for (const ListenerConfig &listener : listeners) {
        if (has_nul(listener.address.host) || has_nul(listener.address.path) || has_nul(listener.name) ||
            has_nul(listener.plugin))
            std::abort();
        const auto again = parse_listen_address(listener.address.text());
        if (!again || again->text() != listener.address.text()) std::abort();
        // A tls object: on a stream listener only, with every file an absolute path (as
        // resolved against the config's directory) and every setting in its range.
        if (const auto &tls = listener.options.tls) {
            if (is_datagram(listener.address.transport) || tls->certificates.empty() ||
                tls->handshake_timeout.count() <= 0)
                std::abort();
            for (const TlsFile *file : tls->files())
                if (file->path.empty() || file->path.front() != '/' || has_nul(file->path)) std::abort();
            if (tls->client_auth != ClientAuth::none && tls->client_ca.empty()) std::abort();
            for (const auto &protocol : tls->alpn)
                if (protocol.empty() || protocol.size() > 255 || has_nul(protocol)) std::abort();
            if (has_nul(tls->ciphers) || has_nul(tls->ciphersuites)) std::abort();
        }
    }
}

inline void check_accepted_config(const HostConfig &config) {
    if (has_nul(config.plugin_dir.string()) || has_nul(config.pid_file.string()) ||
        has_nul(config.control_socket.string()) || (config.run_as && has_nul(config.run_as->name)))
        std::abort();
    check_accepted_listeners(config.listeners);
}

}  // namespace sockhost::fuzz
