#include <sockhost/host/shared/tls_context.hpp>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/kdf.h>

#include <fstream>

namespace sockhost {

namespace {

struct BioFree {
    void operator()(BIO *bio) const { BIO_free(bio); }
};
struct X509Free {
    void operator()(X509 *certificate) const { X509_free(certificate); }
};
struct KeyFree {
    void operator()(EVP_PKEY *key) const { EVP_PKEY_free(key); }
};
struct InfoStackFree {
    void operator()(STACK_OF(X509_INFO) * infos) const { sk_X509_INFO_pop_free(infos, X509_INFO_free); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using InfoStackPtr = std::unique_ptr<STACK_OF(X509_INFO), InfoStackFree>;

BioPtr memory_bio(const std::string &bytes) { return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()))); }

// "notAfter" and "notBefore" as OpenSSL prints them ("Jan  2 03:04:05 2027 GMT").
std::string time_text(const ASN1_TIME *time) {
    BioPtr out(BIO_new(BIO_s_mem()));
    ASN1_TIME_print(out.get(), time);
    char *data = nullptr;
    const long length = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

// Every certificate in a PEM bundle (a chain, or a CA file), and its CRLs.
struct PemBundle {
    std::vector<X509Ptr> certificates;
    std::vector<X509_CRL *> crls;  // owned by `infos`
    InfoStackPtr infos;
};

Result<PemBundle> read_bundle(const TlsFile &file, std::string_view what) {
    ERR_clear_error();
    BioPtr bio = memory_bio(file.pem);
    PemBundle bundle;
    bundle.infos.reset(PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr));
    if (!bundle.infos) return fail(file.path + ": not a PEM " + std::string(what) + ": " + take_openssl_errors());
    for (int index = 0; index < sk_X509_INFO_num(bundle.infos.get()); ++index) {
        X509_INFO *info = sk_X509_INFO_value(bundle.infos.get(), index);
        if (info->x509 != nullptr) {
            X509_up_ref(info->x509);
            bundle.certificates.emplace_back(info->x509);
        }
        if (info->crl != nullptr) bundle.crls.push_back(info->crl);
    }
    return bundle;
}

// A server certificate outside its validity would fail every client: refused at load, so
// a reload that brings one fails and the old generation keeps serving.
Result<void> check_validity(X509 *certificate, const std::string &file) {
    if (X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0)
        return fail(file + ": the certificate expired on " + time_text(X509_get0_notAfter(certificate)));
    if (X509_cmp_current_time(X509_get0_notBefore(certificate)) > 0)
        return fail(file + ": the certificate is not valid before " + time_text(X509_get0_notBefore(certificate)));
    return {};
}

int version_constant(TlsVersion version) { return version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION; }

// The optional mode: any certificate, or none, gets through the handshake; the request
// learns whether it was verified (SSL_get_verify_result) and the plugin decides.
int accept_any_certificate(int, X509_STORE_CTX *) { return 1; }

bool kernel_offers_tls() {
    // The module may also load on first use; this is what the kernel lists now.
    std::ifstream ulps("/proc/sys/net/ipv4/tcp_available_ulp");
    std::string name;
    while (ulps >> name)
        if (name == "tls") return true;
    return false;
}

int context_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

TlsContext *owner_of(SSL *session) {
    return static_cast<TlsContext *>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(session), context_index()));
}

}  // namespace

std::string take_openssl_errors(std::string_view otherwise) {
    std::string reasons;
    while (const unsigned long code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        // "error:0A000086:SSL routines::certificate verify failed": the reason is the last part.
        std::string_view reason(text);
        if (const auto colon = reason.rfind(':'); colon != std::string_view::npos) reason.remove_prefix(colon + 1);
        if (!reasons.empty()) reasons += "; ";
        reasons += reason;
    }
    return reasons.empty() ? std::string(otherwise) : reasons;
}

Result<TicketSecret> TicketSecret::random() {
    TicketSecret secret;
    if (RAND_bytes(secret.bytes.data(), static_cast<int>(secret.bytes.size())) != 1)
        return fail("session ticket secret: the random generator failed: " + take_openssl_errors());
    return secret;
}

std::string TicketSecret::to_hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (const unsigned char byte : bytes) {
        text += kDigits[byte >> 4];
        text += kDigits[byte & 15];
    }
    return text;
}

Result<TicketSecret> TicketSecret::from_hex(std::string_view text) {
    TicketSecret secret;
    if (text.size() != 2 * secret.bytes.size())
        return fail("session ticket secret: " + std::to_string(text.size()) + " hex digits, not 64");
    const auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t index = 0; index < secret.bytes.size(); ++index) {
        const int high = digit(text[2 * index]);
        const int low = digit(text[2 * index + 1]);
        if (high < 0 || low < 0) return fail("session ticket secret: not lowercase hex");
        secret.bytes[index] = static_cast<unsigned char>(high * 16 + low);
    }
    return secret;
}

Result<TicketKey> ticket_key_for_period(const TicketSecret &secret, std::int64_t period, std::string_view scope) {
    struct KdfFree {
        void operator()(EVP_KDF *kdf) const { EVP_KDF_free(kdf); }
        void operator()(EVP_KDF_CTX *context) const { EVP_KDF_CTX_free(context); }
    };
    std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
    if (!kdf) return fail("session ticket key: HKDF: " + take_openssl_errors());
    std::unique_ptr<EVP_KDF_CTX, KdfFree> context(EVP_KDF_CTX_new(kdf.get()));
    if (!context) return fail("session ticket key: HKDF: " + take_openssl_errors());
    const std::string info = "sockhost session ticket key " + std::to_string(period) + " " + std::string(scope);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>("SHA256"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char *>(secret.bytes.data()),
                                          secret.bytes.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char *>(info.data()), info.size()),
        OSSL_PARAM_construct_end(),
    };
    unsigned char derived[16 + 32 + 32];
    if (EVP_KDF_derive(context.get(), derived, sizeof derived, params) != 1)
        return fail("session ticket key: HKDF: " + take_openssl_errors());
    TicketKey key;
    std::copy(derived, derived + 16, key.name.begin());
    std::copy(derived + 16, derived + 48, key.hmac_key.begin());
    std::copy(derived + 48, derived + 80, key.aes_key.begin());
    OPENSSL_cleanse(derived, sizeof derived);
    return key;
}

TlsContext::TlsContext(TlsConfig config, std::optional<TicketSecret> ticket_secret)
    : config_(std::move(config)), ticket_secret_(std::move(ticket_secret)) {}

TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsConfig &config, const std::string &listener,
                                                       std::optional<TicketSecret> ticket_secret) {
    std::shared_ptr<TlsContext> context(new TlsContext(config, std::move(ticket_secret)));
    std::string trusted = listener;
    for (const std::string_view part : {client_auth_name(config.client_auth), std::string_view(config.client_ca.pem),
                                        std::string_view(config.crl.pem)}) {
        trusted += '\0';  // no part can run into the next
        trusted += part;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    if (EVP_Digest(trusted.data(), trusted.size(), digest, &digest_length, EVP_sha256(), nullptr) != 1)
        return fail(listener + ": TLS: SHA-256: " + take_openssl_errors());
    context->trust_scope_.assign(reinterpret_cast<const char *>(digest), digest_length);
    for (const auto &protocol : config.alpn) {
        context->alpn_list_ += static_cast<char>(protocol.size());
        context->alpn_list_ += protocol;
    }
    for (const auto &certificate : config.certificates)
        if (auto added = context->add_certificate(certificate, listener); !added) return std::unexpected(added.error());
    if (config.kernel_tls) context->kernel_tls_available_ = kernel_offers_tls();
    return context;
}

Result<void> TlsContext::add_certificate(const TlsCertificate &certificate, const std::string &listener) {
    ERR_clear_error();
    SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
    if (!context) return fail(listener + ": TLS: " + take_openssl_errors());
    SSL_CTX *ctx = context.get();
    SSL_CTX_set_ex_data(ctx, context_index(), this);

    // Versions and ciphers.
    SSL_CTX_set_min_proto_version(ctx, version_constant(config_.min_version));
    if (!config_.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, config_.ciphers.c_str()) != 1)
        return fail(listener + ": tls.ciphers '" + config_.ciphers + "': " + take_openssl_errors());
    if (!config_.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, config_.ciphersuites.c_str()) != 1)
        return fail(listener + ": tls.ciphersuites '" + config_.ciphersuites + "': " + take_openssl_errors());
    // Renegotiation is a client's lever for making the server work: refused (TLS 1.3 has none).
    // An unexpected end of the TCP stream (no close_notify) reads as the end of input, as
    // nginx and HTTP clients treat it.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 (config_.kernel_tls ? SSL_OP_ENABLE_KTLS : 0));
    // Partial writes: the host's write loop sends what it can and waits; idle connections
    // give their buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);

    // The certificate chain and its key.
    auto chain = read_bundle(certificate.chain, "certificate chain");
    if (!chain) return std::unexpected(chain.error());
    if (chain->certificates.empty()) return fail(certificate.chain.path + ": holds no certificate");
    X509 *leaf = chain->certificates.front().get();
    if (auto valid = check_validity(leaf, certificate.chain.path); !valid) return valid;
    if (SSL_CTX_use_certificate(ctx, leaf) != 1)
        return fail(certificate.chain.path + ": the certificate is not usable: " + take_openssl_errors());
    for (std::size_t index = 1; index < chain->certificates.size(); ++index)
        if (SSL_CTX_add1_chain_cert(ctx, chain->certificates[index].get()) != 1)
            return fail(certificate.chain.path + ": intermediate certificate " + std::to_string(index) + ": " +
                        take_openssl_errors());
    BioPtr key_bio = memory_bio(certificate.key.pem);
    KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!key) return fail(certificate.key.path + ": not a PEM private key (or one with a passphrase): " + take_openssl_errors());
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return fail(certificate.key.path + ": the key does not match the certificate in " + certificate.chain.path);
    }

    // Client certificates.
    if (config_.client_auth != ClientAuth::none) {
        auto authorities = read_bundle(config_.client_ca, "CA bundle");
        if (!authorities) return std::unexpected(authorities.error());
        if (authorities->certificates.empty()) return fail(config_.client_ca.path + ": holds no CA certificate");
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
        for (const auto &authority : authorities->certificates) {
            X509_STORE_add_cert(store, authority.get());
            sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(authority.get())));
        }
        SSL_CTX_set_client_CA_list(ctx, names);  // takes `names`
        if (!config_.crl.empty()) {
            auto revoked = read_bundle(config_.crl, "CRL");
            if (!revoked) return std::unexpected(revoked.error());
            if (revoked->crls.empty()) return fail(config_.crl.path + ": holds no CRL");
            for (X509_CRL *crl : revoked->crls) X509_STORE_add_crl(store, crl);
            X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
        }
        ERR_clear_error();
        if (config_.client_auth == ClientAuth::require)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        else
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_certificate);
    }

    // Resumption: by tickets only, under the supervisor's keys (a per-process session cache
    // would not survive a worker's replacement, nor be shared by its siblings).
    SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char *>(trust_scope_.data()),
                                   static_cast<unsigned int>(trust_scope_.size()));
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (config_.session_tickets && ticket_secret_) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key);
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    }

    if (!alpn_list_.empty()) SSL_CTX_set_alpn_select_cb(ctx, choose_protocol, this);
    if (contexts_.empty() && config_.certificates.size() > 1) {
        SSL_CTX_set_tlsext_servername_callback(ctx, choose_certificate);
        SSL_CTX_set_tlsext_servername_arg(ctx, this);
    }
    contexts_.push_back(std::move(context));
    return {};
}

Result<SslPtr> TlsContext::new_session(int fd) const {
    ERR_clear_error();
    SslPtr session(SSL_new(contexts_.front().get()));
    if (!session || SSL_set_fd(session.get(), fd) != 1) return fail("TLS: a new session: " + take_openssl_errors());
    SSL_set_accept_state(session.get());
    return session;
}

int TlsContext::choose_certificate(SSL *session, int *, void *self) {
    const auto &context = *static_cast<TlsContext *>(self);
    const char *name = SSL_get_servername(session, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) return SSL_TLSEXT_ERR_OK;
    for (const auto &candidate : context.contexts_) {
        X509 *certificate = SSL_CTX_get0_certificate(candidate.get());
        if (certificate != nullptr && X509_check_host(certificate, name, 0, 0, nullptr) == 1) {
            if (candidate.get() != SSL_get_SSL_CTX(session)) SSL_set_SSL_CTX(session, candidate.get());
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;  // no certificate names it: the default one
}

int TlsContext::choose_protocol(SSL *, const unsigned char **out, unsigned char *out_length,
                                const unsigned char *offered, unsigned int offered_length, void *self) {
    const auto &context = *static_cast<TlsContext *>(self);
    unsigned char *chosen = nullptr;
    const auto *server = reinterpret_cast<const unsigned char *>(context.alpn_list_.data());
    if (SSL_select_next_proto(&chosen, out_length, server, static_cast<unsigned int>(context.alpn_list_.size()), offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301: no_application_protocol
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

int TlsContext::ticket_key(SSL *session, unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX *cipher,
                           EVP_MAC_CTX *mac, int encrypt) {
    const TlsContext *context = owner_of(session);
    if (context == nullptr || !context->ticket_secret_) return 0;
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const std::int64_t period = std::chrono::duration_cast<std::chrono::hours>(since_epoch) / kTicketKeyPeriod;
    // Issued under this period's key; accepted under it or the last period's (and renewed).
    std::optional<TicketKey> key;
    bool current = true;
    for (const std::int64_t candidate : {period, period - 1}) {
        auto derived = ticket_key_for_period(*context->ticket_secret_, candidate, context->trust_scope_);
        if (!derived) return -1;
        if (encrypt || std::equal(derived->name.begin(), derived->name.end(), name)) {
            key = *derived;
            current = candidate == period;
            break;
        }
    }
    if (!key) return 0;  // an unknown or older key: a full handshake
    if (encrypt) {
        std::copy(key->name.begin(), key->name.end(), name);
        if (RAND_bytes(iv, 16) != 1) return -1;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key->hmac_key.data(), key->hmac_key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char *>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    const int ready = EVP_MAC_CTX_set_params(mac, params) == 1 &&
                      (encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes_key.data(), iv)
                               : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes_key.data(), iv)) == 1;
    OPENSSL_cleanse(&*key, sizeof *key);
    if (!ready) return -1;
    return encrypt || current ? 1 : 2;  // 2: accepted, and renewed under the current key
}

}  // namespace sockhost
