// Reading a listener's `tls` object (tls_config.hpp); its files are read and checked later,
// by read_effective_config and TlsContext.
#include <sockhost/host/shared/tls_config.hpp>

#include "parse_listener.hpp"

namespace sockhost {

std::string_view client_auth_name(ClientAuth auth) {
    switch (auth) {
    case ClientAuth::none: return "none";
    case ClientAuth::optional: return "optional";
    case ClientAuth::require: return "require";
    }
    return "?";
}

std::vector<TlsFile *> TlsConfig::files() {
    std::vector<TlsFile *> all;
    for (auto &certificate : certificates) {
        all.push_back(&certificate.chain);
        all.push_back(&certificate.key);
    }
    for (TlsFile *file : {&client_ca, &crl})
        if (!file->empty()) all.push_back(file);
    return all;
}

std::vector<const TlsFile *> TlsConfig::files() const {
    std::vector<const TlsFile *> all;
    for (TlsFile *file : const_cast<TlsConfig *>(this)->files()) all.push_back(file);
    return all;
}

namespace {

Result<void> read_path(ObjectReader &reader, std::string_view key, const std::filesystem::path &base_dir, bool required,
                       TlsFile &out) {
    std::string text;
    SOCKHOST_TRY(reader.string(key, text, required));
    if (reader.find(key) == nullptr) return {};
    if (text.empty() || text.back() == '/') return fail(reader.key_path(key) + ": '" + text + "' is not a file path");
    out.path = (base_dir / text).lexically_normal().string();
    return {};
}

Result<TlsCertificate> read_certificate(ObjectReader &reader, const std::filesystem::path &base_dir) {
    TlsCertificate certificate;
    SOCKHOST_TRY(read_path(reader, "cert", base_dir, true, certificate.chain));
    SOCKHOST_TRY(read_path(reader, "key", base_dir, true, certificate.key));
    return certificate;
}

Result<void> read_certificates(ObjectReader &reader, const std::filesystem::path &base_dir, TlsConfig &tls) {
    const bool single = reader.find("cert") != nullptr || reader.find("key") != nullptr;
    const json *list = reader.find("certificates");
    if (single && list != nullptr)
        return fail(reader.key_path("certificates") + ": give either cert and key, or certificates, not both");
    if (single) {
        auto certificate = read_certificate(reader, base_dir);
        if (!certificate) return std::unexpected(certificate.error());
        tls.certificates.push_back(std::move(*certificate));
        return {};
    }
    if (list == nullptr) return fail(reader.key_path("cert") + ": required key is missing (or give certificates)");
    if (!list->is_array() || list->empty())
        return fail(reader.key_path("certificates") + ": expected a non-empty array of {\"cert\", \"key\"} objects");
    for (std::size_t index = 0; index < list->size(); ++index) {
        const json &item = (*list)[index];
        const std::string item_path = reader.key_path("certificates") + "[" + std::to_string(index) + "]";
        if (!item.is_object()) return fail(item_path + ": expected an object, got " + std::string(item.type_name()));
        ObjectReader item_reader(item, item_path);
        auto certificate = read_certificate(item_reader, base_dir);
        if (!certificate) return std::unexpected(certificate.error());
        SOCKHOST_TRY(item_reader.reject_unknown());
        tls.certificates.push_back(std::move(*certificate));
    }
    return {};
}

// ALPN protocol names as RFC 7301 has them: 1 to 255 bytes each, sent in the server's
// preference order.
Result<void> read_alpn(ObjectReader &reader, TlsConfig &tls) {
    const json *list = reader.find("alpn");
    if (list == nullptr) return {};
    if (!list->is_array()) return reader.type_error("alpn", "an array of protocol names", *list);
    for (std::size_t index = 0; index < list->size(); ++index) {
        const json &item = (*list)[index];
        const std::string item_path = reader.key_path("alpn") + "[" + std::to_string(index) + "]";
        if (!item.is_string()) return fail(item_path + ": expected a string, got " + std::string(item.type_name()));
        const auto &name = item.get_ref<const std::string &>();
        if (name.empty() || name.size() > 255 || name.find('\0') != std::string::npos)
            return fail(item_path + ": '" + name + "' must be 1 to 255 bytes without NUL (RFC 7301)");
        tls.alpn.push_back(name);
    }
    return {};
}

Result<void> read_client_auth(ObjectReader &reader, const std::filesystem::path &base_dir, TlsConfig &tls) {
    SOCKHOST_TRY(read_path(reader, "client_ca", base_dir, false, tls.client_ca));
    SOCKHOST_TRY(read_path(reader, "crl", base_dir, false, tls.crl));
    // Naming a CA means client certificates are to be checked: required unless said otherwise.
    tls.client_auth = tls.client_ca.empty() ? ClientAuth::none : ClientAuth::require;
    if (reader.find("client_auth") != nullptr) {
        std::string text;
        SOCKHOST_TRY(reader.string("client_auth", text, false));
        if (text == "none")
            tls.client_auth = ClientAuth::none;
        else if (text == "optional")
            tls.client_auth = ClientAuth::optional;
        else if (text == "require")
            tls.client_auth = ClientAuth::require;
        else
            return fail(reader.key_path("client_auth") + ": unknown value '" + text + "' (use require, optional or none)");
    }
    if (tls.client_auth != ClientAuth::none && tls.client_ca.empty())
        return fail(reader.key_path("client_auth") + ": '" + std::string(client_auth_name(tls.client_auth)) +
                    "' needs client_ca, the CAs a client certificate is checked against");
    if (!tls.crl.empty() && tls.client_auth == ClientAuth::none)
        return fail(reader.key_path("crl") + ": a CRL applies to client certificates, and client_auth is none");
    return {};
}

}  // namespace

Result<TlsConfig> parse_tls_config(const json &object, const std::string &path, const std::filesystem::path &base_dir) {
    if (!object.is_object()) return fail(path + ": expected an object, got " + std::string(object.type_name()));
    ObjectReader reader(object, path);
    TlsConfig tls;
    SOCKHOST_TRY(read_certificates(reader, base_dir, tls));
    if (reader.find("min_version") != nullptr) {
        std::string text;
        SOCKHOST_TRY(reader.string("min_version", text, false));
        if (text == "1.2")
            tls.min_version = TlsVersion::tls1_2;
        else if (text == "1.3")
            tls.min_version = TlsVersion::tls1_3;
        else
            return fail(reader.key_path("min_version") + ": '" + text +
                        "' is not a version sockhost accepts as the minimum (use \"1.2\" or \"1.3\")");
    }
    SOCKHOST_TRY(reader.string("ciphers", tls.ciphers, false));
    SOCKHOST_TRY(reader.string("ciphersuites", tls.ciphersuites, false));
    SOCKHOST_TRY(read_alpn(reader, tls));
    SOCKHOST_TRY(read_client_auth(reader, base_dir, tls));
    SOCKHOST_TRY(reader.seconds("handshake_timeout", tls.handshake_timeout));
    if (tls.handshake_timeout.count() == 0)
        return fail(reader.key_path("handshake_timeout") + ": must be above 0: a handshake always has a deadline");
    SOCKHOST_TRY(reader.boolean("session_tickets", tls.session_tickets));
    SOCKHOST_TRY(reader.boolean("kernel_tls", tls.kernel_tls));
    SOCKHOST_TRY(reader.reject_unknown());
    return tls;
}

}  // namespace sockhost
