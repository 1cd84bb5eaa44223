// A stream listener's `tls` object: the certificates it presents, the protocol versions
// and ciphers it accepts, ALPN, and how it authenticates clients. The file paths are
// resolved against the config file's directory; their contents are read by the
// supervisor once per generation (effective_config.hpp) and travel with its snapshot, so
// a worker that runs as another user needs no access to the key files.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace sockhost {

enum class TlsVersion { tls1_2, tls1_3 };
enum class ClientAuth { none, optional, require };

std::string_view client_auth_name(ClientAuth auth);

// A file the context is built from: where it is, and (once read) what it holds.
struct TlsFile {
    std::string path;  // empty: not configured
    std::string pem;
    bool empty() const { return path.empty(); }
};

struct TlsCertificate {
    TlsFile chain;  // the certificate, then its intermediates
    TlsFile key;
};

struct TlsConfig {
    // The first is presented when the client names no server (SNI) or one no certificate
    // covers; each other is chosen when the name the client asks for matches one of its
    // DNS names (or its common name, when it has none).
    std::vector<TlsCertificate> certificates;
    TlsVersion min_version = TlsVersion::tls1_2;
    std::string ciphers;       // TLS 1.2 (OpenSSL's cipher list syntax); empty: OpenSSL's default
    std::string ciphersuites;  // TLS 1.3; empty: OpenSSL's default
    std::vector<std::string> alpn;  // the server's preference order; empty: no ALPN
    TlsFile client_ca;              // the CAs a client certificate must chain to
    ClientAuth client_auth = ClientAuth::none;
    TlsFile crl;                    // revoked client certificates (needs client_ca)
    std::chrono::milliseconds handshake_timeout{10000};
    bool session_tickets = true;    // resumption by tickets, with keys the supervisor keeps
    bool kernel_tls = false;        // hand the record layer to the kernel after the handshake

    // Every file, for reading them once: pointers into this config.
    std::vector<TlsFile *> files();
    std::vector<const TlsFile *> files() const;
};

}  // namespace sockhost
