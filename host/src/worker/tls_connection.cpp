#include <sockhost/host/worker/tls_connection.hpp>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

namespace sockhost {

namespace {

std::string name_text(const X509_NAME *name) {
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char *data = nullptr;
    const long length = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

std::string ip_text(const ASN1_OCTET_STRING *address) {
    char text[64] = {};
    const unsigned char *bytes = ASN1_STRING_get0_data(address);
    const int length = ASN1_STRING_length(address);
    if (length == 4)
        std::snprintf(text, sizeof text, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    else if (length == 16)
        for (int index = 0; index < 16; index += 2)
            std::snprintf(text + std::strlen(text), sizeof text - std::strlen(text), index ? ":%x" : "%x",
                          bytes[index] << 8 | bytes[index + 1]);
    return text;
}

std::vector<std::string> alt_names_of(X509 *certificate) {
    std::vector<std::string> names;
    auto *general = static_cast<GENERAL_NAMES *>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
    if (general == nullptr) return names;
    for (int index = 0; index < sk_GENERAL_NAME_num(general); ++index) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(general, index);
        const auto text = [](const ASN1_IA5STRING *string) {
            return std::string(reinterpret_cast<const char *>(ASN1_STRING_get0_data(string)),
                               static_cast<std::size_t>(ASN1_STRING_length(string)));
        };
        switch (name->type) {
        case GEN_DNS: names.push_back("DNS:" + text(name->d.dNSName)); break;
        case GEN_URI: names.push_back("URI:" + text(name->d.uniformResourceIdentifier)); break;
        case GEN_EMAIL: names.push_back("email:" + text(name->d.rfc822Name)); break;
        case GEN_IPADD: names.push_back("IP:" + ip_text(name->d.iPAddress)); break;
        default: break;
        }
    }
    GENERAL_NAMES_free(general);
    return names;
}

}  // namespace

Result<TlsConnection> TlsConnection::start(const TlsContext &context, int fd) {
    auto session = context.new_session(fd);
    if (!session) return std::unexpected(session.error());
    return TlsConnection(std::move(*session));
}

TlsConnection::Step TlsConnection::classify(int result, std::string_view what) {
    Step step;
    switch (SSL_get_error(session_.get(), result)) {
    case SSL_ERROR_WANT_READ: step.want = Want::readable; return step;
    case SSL_ERROR_WANT_WRITE: step.want = Want::writable; return step;
    case SSL_ERROR_ZERO_RETURN: return step;  // close_notify, or (IGNORE_UNEXPECTED_EOF) a plain end
    case SSL_ERROR_SYSCALL: {
        const int error = errno;
        step.peer_gone = error == ECONNRESET || error == EPIPE || error == 0;
        step.error = std::string(what) + ": " + (error != 0 ? std::strerror(error) : "the peer closed the connection");
        ERR_clear_error();
        return step;
    }
    default:
        step.error = std::string(what) + ": " + take_openssl_errors();
        return step;
    }
}

TlsConnection::Step TlsConnection::handshake() {
    ERR_clear_error();
    errno = 0;
    const int result = SSL_do_handshake(session_.get());
    if (result == 1) return {1, Want::nothing, {}, false};
    Step step = classify(result, "TLS handshake");
    // A peer that ends the stream mid-handshake (SSL_ERROR_ZERO_RETURN) failed it too.
    if (step.want == Want::nothing && step.error.empty()) {
        step.error = "TLS handshake: the peer closed the connection";
        step.peer_gone = true;
    }
    if (!step.error.empty()) {
        const long verify = SSL_get_verify_result(session_.get());
        if (verify != X509_V_OK) step.error += " (client certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
    }
    return step;
}

TlsConnection::Step TlsConnection::read(char *buffer, std::size_t capacity) {
    ERR_clear_error();
    errno = 0;
    std::size_t count = 0;
    if (SSL_read_ex(session_.get(), buffer, capacity, &count) == 1) return {static_cast<std::int64_t>(count), Want::nothing, {}, false};
    return classify(0, "TLS read");
}

TlsConnection::Step TlsConnection::write(const char *data, std::size_t length) {
    ERR_clear_error();
    errno = 0;
    std::size_t count = 0;
    if (SSL_write_ex(session_.get(), data, length, &count) == 1) return {static_cast<std::int64_t>(count), Want::nothing, {}, false};
    return classify(0, "TLS write");
}

TlsConnection::Want TlsConnection::close_notify() {
    if (sent_close_notify_) return Want::nothing;
    ERR_clear_error();
    // 0: ours is sent, the peer's not yet seen (it is not waited for); 1: both.
    const int result = SSL_shutdown(session_.get());
    if (result >= 0) {
        sent_close_notify_ = true;
        return Want::nothing;
    }
    const int error = SSL_get_error(session_.get(), result);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_WRITE) return Want::writable;
    if (error == SSL_ERROR_WANT_READ) return Want::readable;
    sent_close_notify_ = true;  // the peer is gone or the session failed: nothing more to send
    return Want::nothing;
}

TlsPeer TlsConnection::peer() const {
    TlsPeer peer;
    SSL *session = session_.get();
    if (X509 *certificate = SSL_get0_peer_certificate(session)) {
        peer.presented_certificate = true;
        const long verify = SSL_get_verify_result(session);
        peer.verified = verify == X509_V_OK;
        if (!peer.verified) peer.verify_error = X509_verify_cert_error_string(verify);
        peer.subject = name_text(X509_get_subject_name(certificate));
        peer.alt_names = alt_names_of(certificate);
    }
    const unsigned char *protocol = nullptr;
    unsigned int protocol_length = 0;
    SSL_get0_alpn_selected(session, &protocol, &protocol_length);
    if (protocol != nullptr) peer.alpn.assign(reinterpret_cast<const char *>(protocol), protocol_length);
    if (const char *name = SSL_get_servername(session, TLSEXT_NAMETYPE_host_name)) peer.server_name = name;
    peer.version = SSL_get_version(session);
    if (const SSL_CIPHER *cipher = SSL_get_current_cipher(session)) peer.cipher = SSL_CIPHER_get_name(cipher);
    peer.resumed = SSL_session_reused(session) == 1;
    return peer;
}

}  // namespace sockhost
