#include "test_pki.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "sockhost/host/shared/unique_fd.hpp"

namespace sockhost::test {
namespace {

// A unique_ptr deleter that calls OpenSSL's free function for the type.
template <auto free_function>
struct OpenSslFree {
    template <typename T>
    void operator()(T *object) const noexcept {
        free_function(object);
    }
};

using Key = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using Crl = std::unique_ptr<X509_CRL, OpenSslFree<X509_CRL_free>>;
using RevokedEntry = std::unique_ptr<X509_REVOKED, OpenSslFree<X509_REVOKED_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>>;
using Name = std::unique_ptr<X509_NAME, OpenSslFree<X509_NAME_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using GeneralName = std::unique_ptr<GENERAL_NAME, OpenSslFree<GENERAL_NAME_free>>;
using Asn1String = std::unique_ptr<ASN1_STRING, OpenSslFree<ASN1_STRING_free>>;
using Asn1Integer = std::unique_ptr<ASN1_INTEGER, OpenSslFree<ASN1_INTEGER_free>>;
using Asn1Time = std::unique_ptr<ASN1_TIME, OpenSslFree<ASN1_TIME_free>>;
using BigNumber = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using Bio = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;

constexpr auto ca_lifetime = std::chrono::hours(24 * 365);

// Everything on OpenSSL's error queue, oldest first, emptying it.
std::string openssl_reasons() {
    std::string reasons;
    while (const unsigned long code = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        if (!reasons.empty()) reasons += "; ";
        reasons += text;
    }
    return reasons.empty() ? "no OpenSSL error queued" : reasons;
}

[[noreturn]] void fail(std::string_view what) {
    throw std::runtime_error("test PKI: " + std::string(what) + ": " + openssl_reasons());
}

void check(int result, std::string_view what) {
    if (result <= 0) fail(what);
}

template <typename T>
T *check(T *object, std::string_view what) {
    if (object == nullptr) fail(what);
    return object;
}

std::string file_path(const std::string &directory, const std::string &stem, const char *suffix) {
    return (std::filesystem::path(directory) / (stem + suffix)).string();
}

void write_file(const std::string &path, const std::string &contents, mode_t mode) {
    auto failed = [&](const char *step) {
        return std::runtime_error("test PKI: cannot " + std::string(step) + " " + path + ": " + std::strerror(errno));
    };
    UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!file) throw failed("create");
    // open() applies the mode only to a new file, and through the umask: set it outright,
    // before a key's bytes are in the file.
    if (::fchmod(file.get(), mode) != 0) throw failed("chmod");
    for (std::size_t written = 0; written < contents.size();) {
        const ssize_t count = ::write(file.get(), contents.data() + written, contents.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) throw failed("write");
        written += static_cast<std::size_t>(count);
    }
}

// PEM text through a memory BIO: `write_pem` is one of OpenSSL's PEM_write_bio_* calls.
template <typename WritePem>
std::string pem_text(WritePem write_pem, std::string_view what) {
    Bio memory(check(BIO_new(BIO_s_mem()), "BIO_new"));
    check(write_pem(memory.get()), what);
    char *data = nullptr;
    const long size = BIO_get_mem_data(memory.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

void write_certificate_file(const std::string &path, X509 *certificate) {
    write_file(path, pem_text([&](BIO *out) { return PEM_write_bio_X509(out, certificate); }, "PEM of " + path), 0644);
}

void write_key_file(const std::string &path, EVP_PKEY *key) {
    write_file(path,
               pem_text([&](BIO *out) { return PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr); },
                        "PEM of " + path),
               0600);
}

Certificate read_certificate_file(const std::string &path) {
    Bio in(check(BIO_new_file(path.c_str(), "r"), "open " + path));
    return Certificate(check(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr), "read a certificate from " + path));
}

Key generate_key() {
    return Key(check(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "generate an EC P-256 key"));
}

Name name_with_common_name(const std::string &common_name) {
    Name name(check(X509_NAME_new(), "X509_NAME_new"));
    if (!common_name.empty()) {
        check(X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char *>(common_name.c_str()), -1, -1, 0),
              "set CN \"" + common_name + "\"");
    }
    return name;
}

// 127 random bits: positive, within the 20 octets RFC 5280 allows, and unique in practice
// however many CAs and certificates a test run makes.
void set_random_serial(X509 *certificate) {
    BigNumber serial(check(BN_new(), "BN_new"));
    check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "draw a serial number");
    check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)), "set the serial number");
}

// An unsigned v3 certificate for `subject_key`, named `common_name`, valid from now +
// `not_before` to now + `not_after`, issued by `issuer_name` (its own name when null).
Certificate new_certificate(const std::string &common_name, EVP_PKEY *subject_key, const X509_NAME *issuer_name,
                            std::chrono::seconds not_before, std::chrono::seconds not_after) {
    Certificate certificate(check(X509_new(), "X509_new"));
    check(X509_set_version(certificate.get(), X509_VERSION_3), "set the version");
    set_random_serial(certificate.get());
    const Name subject = name_with_common_name(common_name);
    check(X509_set_subject_name(certificate.get(), subject.get()), "set the subject");
    check(X509_set_issuer_name(certificate.get(), issuer_name != nullptr ? issuer_name : subject.get()),
          "set the issuer");
    check(X509_gmtime_adj(X509_getm_notBefore(certificate.get()), not_before.count()), "set notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(certificate.get()), not_after.count()), "set notAfter");
    check(X509_set_pubkey(certificate.get(), subject_key), "set the public key");
    return certificate;
}

// One extension in openssl.cnf's syntax ("critical,CA:TRUE"); `issuer` is what
// authorityKeyIdentifier reads (the certificate itself when self-signed).
void add_extension(X509 *certificate, X509 *issuer, int nid, const char *value) {
    X509V3_CTX context{};
    X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
    const Extension extension(
        check(X509V3_EXT_nconf_nid(nullptr, &context, nid, value), std::string("make ") + OBJ_nid2sn(nid) + " " + value));
    check(X509_add_ext(certificate, extension.get(), -1), std::string("add ") + OBJ_nid2sn(nid));
}

void add_key_identifiers(X509 *certificate, X509 *issuer) {
    // subjectKeyIdentifier first: a self-signed certificate's authorityKeyIdentifier is it.
    add_extension(certificate, issuer, NID_subject_key_identifier, "hash");
    add_extension(certificate, issuer, NID_authority_key_identifier, "keyid:always");
}

void add_general_name(GENERAL_NAMES *names, int type, const std::string &value) {
    Asn1String text;
    if (type == GEN_IPADD) {
        text.reset(a2i_IPADDRESS(value.c_str()));
        if (!text) throw std::runtime_error("test PKI: \"" + value + "\" is not an IP address");
    } else {
        text.reset(check(ASN1_STRING_type_new(V_ASN1_IA5STRING), "ASN1_STRING_type_new"));
        check(ASN1_STRING_set(text.get(), value.data(), static_cast<int>(value.size())), "set name " + value);
    }
    GeneralName name(check(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(name.get(), type, text.release());
    check(sk_GENERAL_NAME_push(names, name.get()), "add name " + value);
    name.release();  // the stack owns it now
}

// "URI:spiffe://x/y", "email:a@b", "DNS:name" or "IP:addr", as openssl.cnf writes them.
void add_general_name(GENERAL_NAMES *names, const std::string &written) {
    static constexpr std::pair<std::string_view, int> prefixes[] = {
        {"URI:", GEN_URI}, {"email:", GEN_EMAIL}, {"DNS:", GEN_DNS}, {"IP:", GEN_IPADD}};
    for (const auto &[prefix, type] : prefixes) {
        if (written.starts_with(prefix)) return add_general_name(names, type, written.substr(prefix.size()));
    }
    throw std::runtime_error("test PKI: subject alt name \"" + written + "\" starts with none of URI:, email:, DNS:, IP:");
}

void add_subject_alt_names(X509 *certificate, const GENERAL_NAMES *names) {
    if (sk_GENERAL_NAME_num(names) == 0) return;
    // Critical when the subject is empty, as RFC 5280 requires.
    const int critical = X509_NAME_entry_count(X509_get_subject_name(certificate)) == 0 ? 1 : 0;
    check(X509_add1_ext_i2d(certificate, NID_subject_alt_name, const_cast<GENERAL_NAMES *>(names), critical,
                            X509V3_ADD_DEFAULT),
          "add subjectAltName");
}

GeneralNames new_general_names() {
    return GeneralNames(check(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null"));
}

void add_loopback_ips(GENERAL_NAMES *names) {
    add_general_name(names, GEN_IPADD, "127.0.0.1");
    add_general_name(names, GEN_IPADD, "::1");
}

}  // namespace

struct TestPki::Authority {
    Key key;
    Certificate certificate;
    PemFiles files;

    // A self-signed CA written to <stem>.cert.pem and <stem>.key.pem under `directory`.
    Authority(const std::string &directory, const std::string &stem, const std::string &common_name)
        : key(generate_key()),
          certificate(new_certificate(common_name, key.get(), nullptr, -std::chrono::hours(1), ca_lifetime)),
          files{file_path(directory, stem, ".cert.pem"), file_path(directory, stem, ".key.pem")} {
        add_extension(certificate.get(), certificate.get(), NID_basic_constraints, "critical,CA:TRUE");
        add_extension(certificate.get(), certificate.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
        add_key_identifiers(certificate.get(), certificate.get());
        check(X509_sign(certificate.get(), key.get(), EVP_sha256()), "sign CA " + common_name);
        write_certificate_file(files.cert, certificate.get());
        write_key_file(files.key, key.get());
    }

    // A leaf certificate this CA signs, for a fresh key, written as <stem>.{cert,key}.pem.
    PemFiles issue(const std::string &directory, const std::string &stem, const std::string &common_name,
                   const GENERAL_NAMES *subject_alt_names, const char *extended_key_usage,
                   std::chrono::seconds not_before, std::chrono::seconds not_after) const {
        const Key leaf_key = generate_key();
        const Certificate leaf = new_certificate(common_name, leaf_key.get(), X509_get_subject_name(certificate.get()),
                                                 not_before, not_after);
        add_extension(leaf.get(), certificate.get(), NID_basic_constraints, "critical,CA:FALSE");
        add_extension(leaf.get(), certificate.get(), NID_key_usage, "critical,digitalSignature");
        add_extension(leaf.get(), certificate.get(), NID_ext_key_usage, extended_key_usage);
        add_key_identifiers(leaf.get(), certificate.get());
        add_subject_alt_names(leaf.get(), subject_alt_names);
        check(X509_sign(leaf.get(), key.get(), EVP_sha256()), "sign certificate " + stem);
        PemFiles leaf_files{file_path(directory, stem, ".cert.pem"), file_path(directory, stem, ".key.pem")};
        write_certificate_file(leaf_files.cert, leaf.get());
        write_key_file(leaf_files.key, leaf_key.get());
        return leaf_files;
    }
};

TestPki::TestPki(std::string directory) : directory_(std::move(directory)) {
    ERR_clear_error();
    ca_ = std::make_unique<Authority>(directory_, "ca", "sockhost test CA");
    unknown_ca_ = std::make_unique<Authority>(directory_, "unknown-ca", "sockhost unknown CA");
}

TestPki::~TestPki() = default;

const PemFiles &TestPki::ca() const { return ca_->files; }

std::string TestPki::ca_bundle() const { return ca_->files.cert; }

const PemFiles &TestPki::unknown_ca() const { return unknown_ca_->files; }

PemFiles TestPki::issue_server(const std::string &stem, const std::vector<std::string> &dns_names,
                               bool with_loopback_ips, std::chrono::seconds not_before,
                               std::chrono::seconds not_after) {
    ERR_clear_error();
    const GeneralNames names = new_general_names();
    for (const std::string &dns_name : dns_names) add_general_name(names.get(), GEN_DNS, dns_name);
    if (with_loopback_ips) add_loopback_ips(names.get());
    const std::string common_name = dns_names.empty() ? std::string() : dns_names.front();
    return ca_->issue(directory_, stem, common_name, names.get(), "serverAuth", not_before, not_after);
}

PemFiles TestPki::issue_client(const std::string &stem, const std::string &common_name,
                               const std::vector<std::string> &subject_alt_names, std::chrono::seconds not_before,
                               std::chrono::seconds not_after) {
    ERR_clear_error();
    const GeneralNames names = new_general_names();
    for (const std::string &written : subject_alt_names) add_general_name(names.get(), written);
    return ca_->issue(directory_, stem, common_name, names.get(), "clientAuth", not_before, not_after);
}

PemFiles TestPki::issue_by_unknown_ca(const std::string &stem, const std::string &common_name) {
    ERR_clear_error();
    const GeneralNames names = new_general_names();
    add_general_name(names.get(), GEN_DNS, "localhost");
    add_loopback_ips(names.get());
    return unknown_ca_->issue(directory_, stem, common_name, names.get(), "serverAuth,clientAuth",
                              -std::chrono::hours(1), std::chrono::hours(24));
}

std::string TestPki::write_unrelated_key(const std::string &stem) {
    ERR_clear_error();
    const Key key = generate_key();
    std::string path = file_path(directory_, stem, ".key.pem");
    write_key_file(path, key.get());
    return path;
}

std::string TestPki::write_crl(const std::string &stem, const std::vector<std::string> &revoked_cert_files) {
    ERR_clear_error();
    X509 *const ca_certificate = ca_->certificate.get();
    const Crl crl(check(X509_CRL_new(), "X509_CRL_new"));
    check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), "set the CRL version");
    check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_certificate)), "set the CRL issuer");
    const Asn1Time this_update(check(X509_gmtime_adj(nullptr, -3600), "make thisUpdate"));
    const Asn1Time next_update(check(X509_gmtime_adj(nullptr, 24 * 3600), "make nextUpdate"));
    check(X509_CRL_set1_lastUpdate(crl.get(), this_update.get()), "set thisUpdate");
    check(X509_CRL_set1_nextUpdate(crl.get(), next_update.get()), "set nextUpdate");

    for (const std::string &cert_file : revoked_cert_files) {
        const Certificate revoked = read_certificate_file(cert_file);
        // Revoking another issuer's serial here would revoke nothing, and the test mean nothing.
        if (X509_check_issued(ca_certificate, revoked.get()) != X509_V_OK) {
            throw std::runtime_error("test PKI: " + cert_file + " was not issued by the test CA; its CRL cannot revoke it");
        }
        RevokedEntry entry(check(X509_REVOKED_new(), "X509_REVOKED_new"));
        check(X509_REVOKED_set_serialNumber(entry.get(), X509_get_serialNumber(revoked.get())),
              "set the revoked serial of " + cert_file);
        check(X509_REVOKED_set_revocationDate(entry.get(), this_update.get()), "set the revocation date");
        check(X509_CRL_add0_revoked(crl.get(), entry.get()), "add the revoked entry for " + cert_file);
        entry.release();  // the CRL owns it now
    }
    check(X509_CRL_sort(crl.get()), "sort the CRL");

    const Asn1Integer crl_number(check(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
    check(ASN1_INTEGER_set(crl_number.get(), next_crl_number_++), "set the CRL number");
    check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, X509V3_ADD_DEFAULT),
          "add crlNumber");
    X509V3_CTX context{};
    X509V3_set_ctx(&context, ca_certificate, nullptr, nullptr, crl.get(), 0);
    const Extension authority_key_id(check(
        X509V3_EXT_nconf_nid(nullptr, &context, NID_authority_key_identifier, "keyid:always"), "make the CRL's AKI"));
    check(X509_CRL_add_ext(crl.get(), authority_key_id.get(), -1), "add the CRL's AKI");
    check(X509_CRL_sign(crl.get(), ca_->key.get(), EVP_sha256()), "sign the CRL " + stem);

    std::string path = file_path(directory_, stem, ".crl.pem");
    write_file(path, pem_text([&](BIO *out) { return PEM_write_bio_X509_CRL(out, crl.get()); }, "PEM of " + path), 0644);
    return path;
}

}  // namespace sockhost::test
