// The OpenSSL side of a listener's `tls` object: its certificates (one SSL_CTX each,
// chosen by SNI), versions, ciphers, ALPN, client verification and session-ticket keys,
// built from PEM bytes already read (tls_config.hpp). The supervisor builds one to check
// a configuration before any worker starts; each worker builds its own and makes a
// session per connection from it (worker/tls_connection.hpp).
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/tls_config.hpp>

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

struct SslCtxFree {
    void operator()(SSL_CTX *context) const { SSL_CTX_free(context); }
};
struct SslFree {
    void operator()(SSL *session) const { SSL_free(session); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

// The reasons on this thread's OpenSSL error queue, "; "-joined (the queue is emptied), or
// `otherwise` when it holds none.
std::string take_openssl_errors(std::string_view otherwise = "no reason given");

// The secret session-ticket keys are derived from. The supervisor makes one when it
// starts and gives it to every generation, so a ticket issued before a reload is taken
// after it. Keys rotate by themselves: each 12-hour period of the clock has its own key
// (HKDF of the secret and the period's number), which issues tickets in its period and
// is still accepted in the next one; every worker derives the same keys without talking
// to the others. A supervisor that restarts makes a new secret: older tickets then mean
// a full handshake.
struct TicketSecret {
    std::array<unsigned char, 32> bytes{};

    static Result<TicketSecret> random();
    std::string to_hex() const;
    static Result<TicketSecret> from_hex(std::string_view text);
};
inline constexpr std::chrono::hours kTicketKeyPeriod{12};

// One period's key, in RFC 5077's layout: the name a ticket carries, an HMAC key and an
// AES-256 key.
struct TicketKey {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> hmac_key{};
    std::array<unsigned char, 32> aes_key{};
};
// `scope`: the listener's trust (TlsContext::trust_scope), so that a ticket one listener
// issued does not decrypt at another.
Result<TicketKey> ticket_key_for_period(const TicketSecret &secret, std::int64_t period, std::string_view scope);

class TlsContext {
public:
    // `listener` names the listener in messages; each file's problem names the file.
    // `ticket_secret`: none, no session tickets are issued.
    static Result<std::shared_ptr<TlsContext>> create(const TlsConfig &config, const std::string &listener,
                                                      std::optional<TicketSecret> ticket_secret);
    ~TlsContext();
    TlsContext(const TlsContext &) = delete;
    TlsContext &operator=(const TlsContext &) = delete;

    // A server session for the connected socket `fd` (not owned), ready to accept.
    Result<SslPtr> new_session(int fd) const;

    const TlsConfig &config() const { return config_; }
    // Whether this kernel can take the record layer of a connection (the `tls` module).
    bool kernel_tls_available() const { return kernel_tls_available_; }
    // SHA-256 of what a resumed session skips checking: the listener, client_auth, and the
    // client CA and CRL bytes. It is the session-id context and goes into the ticket keys,
    // so a session from another listener, or from before a reload that changed who is
    // trusted, is no resumption here but a full handshake (with its client certificate).
    const std::string &trust_scope() const { return trust_scope_; }

private:
    TlsContext(TlsConfig config, std::optional<TicketSecret> ticket_secret);
    Result<void> add_certificate(const TlsCertificate &certificate, const std::string &listener);
    static int choose_certificate(SSL *session, int *alert, void *self);
    static int choose_protocol(SSL *session, const unsigned char **out, unsigned char *out_length,
                               const unsigned char *offered, unsigned int offered_length, void *self);
    static int ticket_key(SSL *session, unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX *cipher,
                          EVP_MAC_CTX *mac, int encrypt);

    TlsConfig config_;
    std::optional<TicketSecret> ticket_secret_;
    std::vector<SslCtxPtr> contexts_;  // one per certificate; the first is the default
    std::string alpn_list_;  // each protocol with its length byte, as ALPN sends them
    bool kernel_tls_available_ = false;
    std::string trust_scope_;  // 32 bytes
};

}  // namespace sockhost
