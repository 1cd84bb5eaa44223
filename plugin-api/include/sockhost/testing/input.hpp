// The harness's request input: what one request brings to the plugin.
#ifndef SOCKHOST_TESTING_INPUT_HPP
#define SOCKHOST_TESTING_INPUT_HPP

#include <sockhost/plugin.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sockhost::sdk::testing {

// One turn of a conversation: bytes that arrive `after_ms` (virtual) after the previous
// turn's, or after the request began for the first.
struct Turn {
    std::uint64_t after_ms = 0;
    std::string bytes;
};

// What a TLS handshake proved and agreed (Input::tls, ABI 1.5's peer_identity).
struct TlsIdentity {
    bool presented_certificate = true;
    bool verified = true;
    bool resumed = false;
    std::string subject;                 // RFC 2253: "CN=alice,O=Example"
    std::vector<std::string> alt_names;  // "DNS:x", "URI:x", "email:x", "IP:x"
    std::string verify_error;            // for a presented, unverified certificate
    std::string alpn;
    std::string server_name;
    std::string version = "TLSv1.3";
    std::string cipher = "TLS_AES_256_GCM_SHA384";
};

// A Unix stream peer's process credentials (Input::credentials).
struct Credentials {
    std::int64_t uid = 0;
    std::int64_t gid = 0;
    std::int64_t pid = 1;
};

// One request as the plugin will see it.
struct Input {
    sockhost_transport transport = SOCKHOST_TRANSPORT_TCP;
    std::string bytes;  // stream: the bytes there at once; datagram: the packet
    // Stream: what arrives later, in virtual time (nothing waits): a read that finds
    // nothing buffered waits for the next turn, and fails with "read timed out after N
    // ms" (kind TIMEOUT) when it is due later than the request's timeout (0: none) allows;
    // sleep_ms moves the clock too. End of input (or read_error) after the last turn.
    std::vector<Turn> turns;
    std::string peer = "127.0.0.1:40000";  // peer_text; peer_sockaddr is parsed from it
    std::string local = "127.0.0.1:8000";
    std::uint64_t timeout_ms = 0;  // initial timeout_ms()
    // Largest count one read returns (0: no limit): small values exercise parsers on
    // requests that arrive in pieces.
    std::size_t max_read_bytes = 0;
    // When set, reads fail with this reason after `bytes` instead of seeing end of input
    // (a timeout or a reset), of this last_error_kind (SOCKHOST_ERROR_KIND_*).
    std::optional<std::string> read_error;
    std::uint32_t read_error_kind = SOCKHOST_ERROR_KIND_TIMEOUT;
    // When set, every write and flush fails with this reason (the peer went away).
    std::optional<std::string> write_error;
    std::uint32_t write_error_kind = SOCKHOST_ERROR_KIND_PEER_GONE;
    // The host has begun to stop (a reload, SIGTERM) and still serves the request (the
    // drain): stopping() returns true; reads, writes and sleeps work as usual.
    bool draining = false;
    // ... or it begins to once the plugin has read this many bytes: a keep-alive
    // connection whose later requests arrive while the host drains.
    std::optional<std::size_t> draining_after_bytes_read;
    // The host is stopping and has cancelled the request (the drain deadline passed):
    // sleep_ms fails, and stopping() returns true.
    bool stopping = false;

    // Reloads (ABI 1.2). The previous generation handed this connection over, with this
    // state attached by its instance (set_handoff_state; empty: none): handoff_state()
    // returns it. Unset: a connection this generation accepted (handoff_state() gives
    // NULL). `bytes` are then what the connection brought unread and what came after.
    std::optional<std::string> handed_over_state;
    // A reload moves the connection to the next generation at the plugin's first
    // between_requests once it has read this many bytes (0: its first between_requests),
    // as the host does for a plugin whose descriptor sets SOCKHOST_HANDOFF_CONNECTIONS
    // (serve() throws std::logic_error for another plugin or a datagram). From then on
    // reads return end of input and writes are dropped; stopping() stays false.
    // RequestResult::handed_off and handed_off_bytes say what moved.
    std::optional<std::size_t> hand_off_after_bytes_read;

    // Who the peer is (ABI 1.5, peer_identity): a TLS connection's handshake, a Unix
    // peer's credentials. Unset: a plain connection (flags 0).
    std::optional<TlsIdentity> tls;
    std::optional<Credentials> credentials;
};

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_INPUT_HPP
