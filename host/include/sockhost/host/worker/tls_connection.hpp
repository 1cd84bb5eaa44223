// One connection's TLS session on the server side: the handshake, reads and writes of
// plaintext, and the close_notify at its end, all on a non-blocking socket. Each step
// says what it needs to go on (the socket readable or writable), and the request waits
// for that through its IoWaiter, so the same code blocks a thread, a forked child's
// request or suspends an event-mode fiber.
#pragma once

#include <sockhost/host/shared/tls_context.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

// What the client proved in the handshake.
struct TlsPeer {
    bool presented_certificate = false;
    bool verified = false;                 // it chains to client_ca (and is not revoked)
    std::string verify_error;              // why not, when it was presented and not verified
    std::string subject;                   // RFC 2253 ("CN=client,O=Example")
    std::vector<std::string> alt_names;    // "DNS:...", "URI:...", "email:...", "IP:..."
    std::string alpn;                      // the protocol chosen; empty: none
    std::string server_name;               // SNI as the client sent it; empty: none
    std::string version;                   // "TLSv1.3"
    std::string cipher;
    bool resumed = false;
};

class TlsConnection {
public:
    enum class Want { nothing, readable, writable };
    struct Step {
        std::int64_t count = 0;  // bytes read or written; 0 with want nothing: end of input
        Want want = Want::nothing;
        std::string error;       // set: the session failed, and cannot go on
        bool peer_gone = false;  // the failure was the peer's reset or hang-up
    };

    static Result<TlsConnection> start(const TlsContext &context, int fd);

    Step handshake();
    Step read(char *buffer, std::size_t capacity);
    Step write(const char *data, std::size_t length);
    // Sends close_notify (once); the peer's own is not waited for. Want: what to wait for
    // before calling it again; nothing: done, or the peer is gone.
    Want close_notify();

    // Gives back the session's record buffers (some 34 KiB) when they hold nothing: for a
    // connection about to wait idle between requests. OpenSSL's own release happens only
    // after a whole record was read, not when a read finds nothing, which is how every
    // wait of this host begins.
    void release_buffers() { SSL_free_buffers(session_.get()); }

    // After a handshake: who the peer is, and what was agreed.
    TlsPeer peer() const;

private:
    explicit TlsConnection(SslPtr session) : session_(std::move(session)) {}
    Step classify(int result, std::string_view what);

    SslPtr session_;
    bool sent_close_notify_ = false;
};

}  // namespace sockhost
