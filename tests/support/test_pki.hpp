// Certificates and keys made at run time for the TLS tests: a CA, the server and client
// certificates it signs, and the wrong things a TLS test needs (expired, unknown issuer,
// unrelated key, revoked). No key or certificate is ever committed. Keys are EC P-256,
// signatures SHA-256, serial numbers random (so unique, across TestPki objects too).
// Every file is PEM, under the directory given; a failure throws
// std::runtime_error naming what failed and OpenSSL's reasons.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sockhost::test {

// Paths of the PEM files written: <stem>.cert.pem (mode 0644) and <stem>.key.pem (0600).
struct PemFiles {
    std::string cert;
    std::string key;
};

class TestPki {
public:
    // Makes the CA, CN "sockhost test CA" (files ca.*), and an unrelated one, CN "sockhost
    // unknown CA" (files unknown-ca.*), under `directory`, which must exist.
    explicit TestPki(std::string directory);
    ~TestPki();
    TestPki(const TestPki &) = delete;
    TestPki &operator=(const TestPki &) = delete;

    // The self-signed CA: basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign.
    const PemFiles &ca() const;
    // The CA certificate's path: what a peer trusts (curl --cacert, a listener's client CA).
    std::string ca_bundle() const;

    // A certificate the CA signs for a server: CN the first of `dns_names` ("" when none),
    // subjectAltName the DNS names, and IP 127.0.0.1 and ::1 when `with_loopback_ips`;
    // extendedKeyUsage serverAuth. Valid from now + `not_before` to now + `not_after`
    // (an expired one: -48h, -24h).
    PemFiles issue_server(const std::string &stem, const std::vector<std::string> &dns_names,
                          bool with_loopback_ips = true, std::chrono::seconds not_before = -std::chrono::hours(1),
                          std::chrono::seconds not_after = std::chrono::hours(24));

    // A certificate the CA signs for a client: CN `common_name`, extendedKeyUsage clientAuth,
    // subjectAltName `subject_alt_names` when any, each written "URI:spiffe://x/y",
    // "email:a@b", "DNS:name" or "IP:addr" (another form throws).
    PemFiles issue_client(const std::string &stem, const std::string &common_name,
                          const std::vector<std::string> &subject_alt_names = {},
                          std::chrono::seconds not_before = -std::chrono::hours(1),
                          std::chrono::seconds not_after = std::chrono::hours(24));

    // A certificate the unrelated CA signs, fit for either side (CN `common_name`,
    // subjectAltName DNS:localhost, IP 127.0.0.1 and ::1, serverAuth and clientAuth), so
    // that its issuer is the only thing wrong with it.
    PemFiles issue_by_unknown_ca(const std::string &stem, const std::string &common_name);
    // The unrelated CA, for a test that checks such a certificate is otherwise sound.
    const PemFiles &unknown_ca() const;

    // A fresh private key that matches no certificate; returns its path, <stem>.key.pem.
    std::string write_unrelated_key(const std::string &stem);

    // A CRL the CA signs, revoking the certificates in these PEM files (each must be one the
    // CA issued), valid from an hour ago for a day; returns its path, <stem>.crl.pem.
    std::string write_crl(const std::string &stem, const std::vector<std::string> &revoked_cert_files);

private:
    struct Authority;  // a CA's key and certificate in memory, and its files

    std::string directory_;
    std::unique_ptr<Authority> ca_;
    std::unique_ptr<Authority> unknown_ca_;
    long next_crl_number_ = 1;
};

}  // namespace sockhost::test
