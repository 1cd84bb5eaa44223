// The C++ SDK's view of one request (sockhost::sdk::Request) over the host function table,
// and IoError, what its calls throw when the host's call fails. Part of plugin.hpp.
#ifndef SOCKHOST_REQUEST_HPP
#define SOCKHOST_REQUEST_HPP

#include <sockhost/plugin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sockhost::sdk {

// What a failed host call met (IoError::kind). The host's SOCKHOST_ERROR_KIND_*, and
// `other` for a kind this SDK does not know and on a host older than ABI 1.4.
enum class IoErrorKind {
    timeout,        // `timeout` or the request_deadline passed
    peer_gone,      // the peer reset or closed the connection (read_exact: input ended early)
    cancelled,      // the host is stopping the request
    line_too_long,  // read_line: the line does not fit; none of it was consumed
    other,          // anything else: a bad argument, a host failure
};

constexpr IoErrorKind io_error_kind_from_abi(std::uint32_t kind) noexcept {
    switch (kind) {
        case SOCKHOST_ERROR_KIND_TIMEOUT: return IoErrorKind::timeout;
        case SOCKHOST_ERROR_KIND_PEER_GONE: return IoErrorKind::peer_gone;
        case SOCKHOST_ERROR_KIND_CANCELLED: return IoErrorKind::cancelled;
        case SOCKHOST_ERROR_KIND_LINE_TOO_LONG: return IoErrorKind::line_too_long;
        default: return IoErrorKind::other;
    }
}

// A failed host I/O call: ends the request with an error unless the plugin catches it
// (e.g. to end quietly on IoErrorKind::timeout between two requests).
class IoError : public std::runtime_error {
public:
    explicit IoError(const std::string &message, IoErrorKind kind = IoErrorKind::other)
        : std::runtime_error(message), kind_(kind) {}
    IoErrorKind kind() const noexcept { return kind_; }

private:
    IoErrorKind kind_;
};

// Who the peer is beyond its address (Request::peer_identity, ABI 1.5). The views are
// valid for the request.
struct PeerCredentials {
    std::int64_t uid = -1;
    std::int64_t gid = -1;
    std::int64_t pid = -1;
};
struct PeerIdentity {
    bool tls = false;                    // the connection is TLS
    bool presented_certificate = false;  // the client sent a certificate
    bool verified = false;               // ... that chains to the listener's client_ca, unrevoked
    bool resumed = false;                // the TLS session was resumed
    std::optional<PeerCredentials> credentials;  // a Unix stream peer's (SO_PEERCRED)
    std::string_view subject;            // RFC 2253: "CN=alice,O=Example"
    std::vector<std::string_view> alt_names;  // "DNS:x", "URI:x", "email:x", "IP:x"
    std::string_view verify_error;       // why a presented certificate is not verified
    std::string_view alpn;               // the ALPN protocol agreed; empty: none
    std::string_view server_name;        // SNI; empty: none
    std::string_view tls_version;        // "TLSv1.3"
    std::string_view tls_cipher;
};

// The plugin's view of one request. Not owning: valid for the hook call it was given to.
class Request {
public:
    Request(const sockhost_host_api *host, sockhost_request *request) noexcept
        : host_(host), request_(request) {}

    // Some bytes (at most `capacity`); 0 at end of input.
    std::size_t read(void *buffer, std::size_t capacity) {
        const std::int64_t count = host_->read(request_, buffer, capacity);
        if (count < 0) throw failure();
        return static_cast<std::size_t>(count);
    }

    // One line including its '\n'; empty at end of input. Throws IoError when the line is
    // longer than `max_length` bytes (kind line_too_long: nothing was consumed).
    std::string read_line(std::size_t max_length = 8192) {
        std::string line(max_length + 1, '\0');
        const std::int64_t count = host_->read_line(request_, line.data(), line.size());
        if (count < 0) throw failure();
        line.resize(static_cast<std::size_t>(count));
        return line;
    }

    // The same into a caller's buffer, without allocating: a view of the line in `buffer`
    // (NUL-terminated); empty at end of input. Throws IoError when the line does not fit
    // in `capacity - 1` bytes.
    std::string_view read_line(char *buffer, std::size_t capacity) {
        const std::int64_t count = host_->read_line(request_, buffer, capacity);
        if (count < 0) throw failure();
        return {buffer, static_cast<std::size_t>(count)};
    }

    // Exactly `count` bytes (a length-prefixed field, a fixed header). Throws IoError when
    // the input ends first, saying how many bytes came. Memory grows with what arrives, not
    // with `count` (which a peer may choose): bound `count` before reading that much.
    std::string read_exact(std::size_t count) {
        constexpr std::size_t kChunk = 64 * 1024;
        std::string bytes;
        while (bytes.size() < count) {
            const std::size_t done = bytes.size();
            bytes.resize(done + std::min(kChunk, count - done));
            const std::size_t got = read(bytes.data() + done, bytes.size() - done);
            bytes.resize(done + got);
            if (got == 0)
                throw IoError("read_exact: end of input after " + std::to_string(done) + " of " +
                                  std::to_string(count) + " bytes",
                              IoErrorKind::peer_gone);
        }
        return bytes;
    }

    void write(std::string_view data) {
        if (host_->write(request_, data.data(), data.size()) != SOCKHOST_OK)
            throw failure();
    }

    void flush() {
        if (host_->flush(request_) != SOCKHOST_OK) throw failure();
    }

    void sleep_ms(std::uint64_t milliseconds) {
        if (host_->sleep_ms(request_, milliseconds) != SOCKHOST_OK) throw failure();
    }

    std::string_view peer() const { return host_->peer_text(request_); }
    std::string_view local() const { return host_->local_text(request_); }
    sockhost_transport transport() const { return host_->transport(request_); }
    bool is_datagram() const { return (transport() & SOCKHOST_TRANSPORTS_DATAGRAM) != 0; }
    std::uint64_t timeout_ms() const { return host_->timeout_ms(request_); }
    void set_timeout_ms(std::uint64_t milliseconds) { host_->set_timeout_ms(request_, milliseconds); }

    void log(sockhost_log_level level, const std::string &message) const {
        host_->log(request_, level, message.c_str());
    }

    // Everything received so far is answered: a stopping server may close the connection
    // instead of waiting for the next request (the next read then returns 0).
    void between_requests() { host_->between_requests(request_); }

    // The host has begun to stop or drain (a reload, SIGTERM): finish this request and do
    // not wait for another on this connection (e.g. answer with "Connection: close"). False
    // on a host older than ABI 1.1, which cannot tell. See plugin.h.
    bool stopping() const noexcept {
        return SOCKHOST_HOST_API_HAS(host_, stopping) && host_->stopping != nullptr && host_->stopping(request_);
    }

    // Attaches this connection's own state (a login, a selected database) for the next
    // generation, should a reload move the connection there while it is between requests;
    // replaces what was attached before, and an empty `state` attaches none. Call it with
    // between_requests, for a plugin that declares hand_off_connections. Returns false,
    // doing nothing, on a host older than ABI 1.2, which never moves a connection. Throws
    // IoError when the host refuses: on a datagram, or for more than
    // SOCKHOST_HANDOFF_STATE_MAX bytes (the attached state is then unchanged).
    bool set_handoff_state(std::string_view state) {
        if (!SOCKHOST_HOST_API_HAS(host_, set_handoff_state) || host_->set_handoff_state == nullptr) return false;
        if (host_->set_handoff_state(request_, state.data(), state.size()) == SOCKHOST_OK) return true;
        if (is_datagram()) throw IoError("set_handoff_state: a datagram request has no connection to hand over");
        if (state.size() > SOCKHOST_HANDOFF_STATE_MAX)
            throw IoError("set_handoff_state: " + std::to_string(state.size()) + " bytes, more than the " +
                          std::to_string(SOCKHOST_HANDOFF_STATE_MAX) + " of SOCKHOST_HANDOFF_STATE_MAX");
        throw IoError("set_handoff_state: refused by the host");
    }

    // For a connection the previous generation handed over: the state its instance
    // attached (empty when it attached none). Empty optional for a connection accepted by
    // this generation, and on a host older than ABI 1.2. The view is valid for the request.
    std::optional<std::string_view> handoff_state() const noexcept {
        if (!SOCKHOST_HOST_API_HAS(host_, handoff_state) || host_->handoff_state == nullptr) return std::nullopt;
        std::size_t length = 0;
        const void *state = host_->handoff_state(request_, &length);
        if (state == nullptr) return std::nullopt;
        return std::string_view(static_cast<const char *>(state), length);
    }

    // The kind of the last failed host call's error (IoErrorKind::other on a host older
    // than ABI 1.4); empty optional when none of this request's calls has failed.
    std::optional<IoErrorKind> last_error_kind() const noexcept {
        if (!SOCKHOST_HOST_API_HAS(host_, last_error_kind) || host_->last_error_kind == nullptr)
            return host_->last_error(request_)[0] != '\0' ? std::optional(IoErrorKind::other) : std::nullopt;
        const std::uint32_t kind = host_->last_error_kind(request_);
        if (kind == SOCKHOST_ERROR_KIND_NONE) return std::nullopt;
        return io_error_kind_from_abi(kind);
    }

    // Per-request state from verify or setup to finish: one object of the plugin's, owned
    // by the request, deleted once at its end (or when replaced) on the thread of its last
    // hook. Returns it. user_data<T>() must name the same T. Not moved with a connection at
    // a reload (set_handoff_state is). Throws IoError on a host older than ABI 1.4.
    template <class T>
    T &set_user_data(std::unique_ptr<T> data) {
        if (!data) throw IoError("set_user_data: no object");
        T &object = *data;
        set_raw_user_data(data.get(), [](void *owned) noexcept { delete static_cast<T *>(owned); });
        data.release();  // the request owns it now
        return object;
    }
    template <class T, class... Arguments>
    T &emplace_user_data(Arguments &&...arguments) {
        return set_user_data(std::make_unique<T>(std::forward<Arguments>(arguments)...));
    }
    // What set_user_data attached, as a T; nullptr when nothing is attached.
    template <class T>
    T *user_data() const noexcept {
        return static_cast<T *>(raw_user_data());
    }
    // The C form: any pointer, and the function the host calls on it at the end.
    void set_raw_user_data(void *data, sockhost_release_fn release) {
        if (!SOCKHOST_HOST_API_HAS(host_, user_data) || host_->set_user_data == nullptr)
            throw IoError("set_user_data: the host is older than ABI 1.4");
        if (host_->set_user_data(request_, data, release) != SOCKHOST_OK) throw IoError("set_user_data: refused");
    }
    void *raw_user_data() const noexcept {
        if (!SOCKHOST_HOST_API_HAS(host_, user_data) || host_->user_data == nullptr) return nullptr;
        return host_->user_data(request_);
    }

    // Who the peer is: what a TLS handshake proved and agreed, a Unix peer's uid, gid and
    // pid. Valid from verify on. Empty optional on a host older than ABI 1.5.
    std::optional<PeerIdentity> peer_identity() const {
        if (!SOCKHOST_HOST_API_HAS(host_, peer_identity) || host_->peer_identity == nullptr) return std::nullopt;
        const sockhost_peer_identity *raw = host_->peer_identity(request_);
        PeerIdentity identity;
        if (raw == nullptr) return identity;
        identity.tls = (raw->flags & SOCKHOST_PEER_TLS) != 0;
        identity.presented_certificate = (raw->flags & SOCKHOST_PEER_CERTIFICATE) != 0;
        identity.verified = (raw->flags & SOCKHOST_PEER_VERIFIED) != 0;
        identity.resumed = (raw->flags & SOCKHOST_PEER_RESUMED) != 0;
        if ((raw->flags & SOCKHOST_PEER_CREDENTIALS) != 0) identity.credentials = PeerCredentials{raw->uid, raw->gid, raw->pid};
        identity.subject = raw->subject;
        for (std::size_t index = 0; index < raw->alt_name_count; ++index) identity.alt_names.emplace_back(raw->alt_names[index]);
        identity.verify_error = raw->verify_error;
        identity.alpn = raw->alpn;
        identity.server_name = raw->server_name;
        identity.tls_version = raw->tls_version;
        identity.tls_cipher = raw->tls_cipher;
        return identity;
    }

    sockhost_request *raw() const noexcept { return request_; }
    const sockhost_host_api *host() const noexcept { return host_; }

private:
    IoError failure() const {
        return IoError(host_->last_error(request_), last_error_kind().value_or(IoErrorKind::other));
    }

    const sockhost_host_api *host_;
    sockhost_request *request_;
};

}  // namespace sockhost::sdk

#endif  // SOCKHOST_REQUEST_HPP
