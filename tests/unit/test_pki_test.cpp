// TestPki's files as the real openssl CLI reads them: what the TLS tests rely on (a chain
// that verifies, the names, the purposes, expiry, an unknown issuer, revocation, a key
// that matches nothing) holds before any of them trusts it.
#include "test_pki.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

#include "admin_client.hpp"
#include "temp_dir.hpp"

namespace sockhost::test {
namespace {

std::string quoted(const std::string &path) { return "'" + path + "'"; }

ShellOutcome openssl(const std::string &arguments) { return run_command("openssl " + arguments); }

ShellOutcome verify(const PemFiles &leaf, const std::string &ca_file, const std::string &extra = {}) {
    return openssl("verify -CAfile " + quoted(ca_file) + " " + extra + (extra.empty() ? "" : " ") + quoted(leaf.cert));
}

std::string subject_alt_names(const PemFiles &leaf) {
    return openssl("x509 -noout -ext subjectAltName -in " + quoted(leaf.cert)).output;
}

std::string public_key_of_certificate(const std::string &cert_file) {
    return openssl("x509 -noout -pubkey -in " + quoted(cert_file)).output;
}

std::string public_key_of_key(const std::string &key_file) {
    return openssl("pkey -pubout -in " + quoted(key_file)).output;
}

unsigned permissions_of(const std::string &path) {
    struct stat status{};
    if (::stat(path.c_str(), &status) != 0) return ~0u;
    return status.st_mode & 07777;
}

class TestPkiFiles : public ::testing::Test {
protected:
    TempDir directory;
    TestPki pki{directory.path().string()};
};

TEST_F(TestPkiFiles, CaIsASelfSignedCertificateAuthority) {
    const ShellOutcome self_check = verify(pki.ca(), pki.ca_bundle());
    EXPECT_EQ(self_check.exit_code, 0) << self_check.output;
    const ShellOutcome text = openssl("x509 -noout -subject -ext basicConstraints,keyUsage -in " + quoted(pki.ca().cert));
    ASSERT_EQ(text.exit_code, 0) << text.output;
    EXPECT_NE(text.output.find("CN = sockhost test CA"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("CA:TRUE"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("Certificate Sign, CRL Sign"), std::string::npos) << text.output;
    EXPECT_EQ(pki.ca_bundle(), pki.ca().cert);
}

TEST_F(TestPkiFiles, ServerCertificateVerifiesForItsNamesAndLoopbackIps) {
    const PemFiles server = pki.issue_server("server", {"localhost", "sockhost.test"});
    for (const std::string extra : {"-purpose sslserver", "-verify_hostname localhost", "-verify_hostname sockhost.test",
                                    "-verify_ip 127.0.0.1", "-verify_ip ::1"}) {
        const ShellOutcome outcome = verify(server, pki.ca_bundle(), extra);
        EXPECT_EQ(outcome.exit_code, 0) << extra << ": " << outcome.output;
    }
    const ShellOutcome other_host = verify(server, pki.ca_bundle(), "-verify_hostname elsewhere.test");
    EXPECT_NE(other_host.exit_code, 0) << other_host.output;
    // serverAuth only: a client presenting it would be refused.
    const ShellOutcome as_client = verify(server, pki.ca_bundle(), "-purpose sslclient");
    EXPECT_NE(as_client.exit_code, 0) << as_client.output;

    const std::string names = subject_alt_names(server);
    EXPECT_NE(names.find("DNS:localhost"), std::string::npos) << names;
    EXPECT_NE(names.find("DNS:sockhost.test"), std::string::npos) << names;
    EXPECT_NE(names.find("IP Address:127.0.0.1"), std::string::npos) << names;
    EXPECT_NE(names.find("IP Address:0:0:0:0:0:0:0:1"), std::string::npos) << names;
    const std::string subject = openssl("x509 -noout -subject -in " + quoted(server.cert)).output;
    EXPECT_NE(subject.find("CN = localhost"), std::string::npos) << subject;
}

TEST_F(TestPkiFiles, ServerCertificateWithoutLoopbackIpsNamesOnlyItsDnsNames) {
    const PemFiles server = pki.issue_server("dns-only", {"sockhost.test"}, false);
    const std::string names = subject_alt_names(server);
    EXPECT_NE(names.find("DNS:sockhost.test"), std::string::npos) << names;
    EXPECT_EQ(names.find("IP Address"), std::string::npos) << names;
    const ShellOutcome by_ip = verify(server, pki.ca_bundle(), "-verify_ip 127.0.0.1");
    EXPECT_NE(by_ip.exit_code, 0) << by_ip.output;
}

TEST_F(TestPkiFiles, ExpiredCertificateFailsVerification) {
    const PemFiles expired =
        pki.issue_server("expired", {"localhost"}, true, -std::chrono::hours(48), -std::chrono::hours(24));
    const ShellOutcome outcome = verify(expired, pki.ca_bundle());
    EXPECT_NE(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find("certificate has expired"), std::string::npos) << outcome.output;
}

TEST_F(TestPkiFiles, NotYetValidCertificateFailsVerification) {
    const PemFiles future =
        pki.issue_client("future", "early client", {}, std::chrono::hours(24), std::chrono::hours(48));
    const ShellOutcome outcome = verify(future, pki.ca_bundle());
    EXPECT_NE(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find("certificate is not yet valid"), std::string::npos) << outcome.output;
}

TEST_F(TestPkiFiles, ClientCertificateCarriesItsNameAndAltNames) {
    const PemFiles client =
        pki.issue_client("client", "alice", {"URI:spiffe://sockhost.test/alice", "email:alice@sockhost.test", "DNS:alice.test"});
    const ShellOutcome as_client = verify(client, pki.ca_bundle(), "-purpose sslclient");
    EXPECT_EQ(as_client.exit_code, 0) << as_client.output;
    // clientAuth only: a server presenting it would be refused.
    const ShellOutcome as_server = verify(client, pki.ca_bundle(), "-purpose sslserver");
    EXPECT_NE(as_server.exit_code, 0) << as_server.output;

    const std::string subject = openssl("x509 -noout -subject -in " + quoted(client.cert)).output;
    EXPECT_NE(subject.find("CN = alice"), std::string::npos) << subject;
    const std::string names = subject_alt_names(client);
    EXPECT_NE(names.find("URI:spiffe://sockhost.test/alice"), std::string::npos) << names;
    EXPECT_NE(names.find("email:alice@sockhost.test"), std::string::npos) << names;
    EXPECT_NE(names.find("DNS:alice.test"), std::string::npos) << names;
}

TEST_F(TestPkiFiles, ClientAltNameInAnUnknownFormIsRefused) {
    EXPECT_THROW(pki.issue_client("odd", "odd", {"otherName:1.2.3;UTF8:x"}), std::runtime_error);
}

TEST_F(TestPkiFiles, CertificateFromTheUnknownCaFailsAgainstTheCa) {
    const PemFiles stranger = pki.issue_by_unknown_ca("stranger", "stranger");
    const ShellOutcome against_ca = verify(stranger, pki.ca_bundle());
    EXPECT_NE(against_ca.exit_code, 0) << against_ca.output;
    EXPECT_NE(against_ca.output.find("unable to get local issuer certificate"), std::string::npos) << against_ca.output;
    // Otherwise sound, on either side: the issuer is the only thing wrong with it.
    for (const std::string extra : {"-purpose sslserver", "-purpose sslclient", "-verify_hostname localhost",
                                    "-verify_ip 127.0.0.1"}) {
        const ShellOutcome outcome = verify(stranger, pki.unknown_ca().cert, extra);
        EXPECT_EQ(outcome.exit_code, 0) << extra << ": " << outcome.output;
    }
}

TEST_F(TestPkiFiles, CrlRevokesOnlyTheCertificatesNamed) {
    const PemFiles revoked = pki.issue_client("revoked", "mallory");
    const PemFiles kept = pki.issue_client("kept", "alice");
    const std::string crl = pki.write_crl("revocations", {revoked.cert});
    EXPECT_EQ(crl, (directory / "revocations.crl.pem").string());

    const std::string crl_check = "-crl_check -CRLfile " + quoted(crl);
    const ShellOutcome of_revoked = verify(revoked, pki.ca_bundle(), crl_check);
    EXPECT_NE(of_revoked.exit_code, 0) << of_revoked.output;
    EXPECT_NE(of_revoked.output.find("certificate revoked"), std::string::npos) << of_revoked.output;
    const ShellOutcome of_kept = verify(kept, pki.ca_bundle(), crl_check);
    EXPECT_EQ(of_kept.exit_code, 0) << of_kept.output;

    const ShellOutcome crl_signature =
        openssl("crl -noout -CAfile " + quoted(pki.ca_bundle()) + " -in " + quoted(crl));
    EXPECT_EQ(crl_signature.exit_code, 0) << crl_signature.output;
    EXPECT_NE(crl_signature.output.find("verify OK"), std::string::npos) << crl_signature.output;
}

TEST_F(TestPkiFiles, EmptyCrlRevokesNothing) {
    const PemFiles client = pki.issue_client("client", "alice");
    const std::string crl = pki.write_crl("empty", {});
    const ShellOutcome outcome = verify(client, pki.ca_bundle(), "-crl_check -CRLfile " + quoted(crl));
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
}

TEST_F(TestPkiFiles, CrlRefusesACertificateAnotherCaIssued) {
    const PemFiles stranger = pki.issue_by_unknown_ca("stranger", "stranger");
    EXPECT_THROW(pki.write_crl("wrong", {stranger.cert}), std::runtime_error);
}

TEST_F(TestPkiFiles, UnrelatedKeyMatchesNoCertificate) {
    const PemFiles server = pki.issue_server("server", {"localhost"});
    const std::string unrelated = pki.write_unrelated_key("unrelated");
    const std::string unrelated_public = public_key_of_key(unrelated);
    ASSERT_NE(unrelated_public.find("BEGIN PUBLIC KEY"), std::string::npos) << unrelated_public;
    EXPECT_NE(unrelated_public, public_key_of_certificate(server.cert));
    EXPECT_NE(unrelated_public, public_key_of_certificate(pki.ca().cert));
    // The control: a certificate's own key does match it.
    EXPECT_EQ(public_key_of_key(server.key), public_key_of_certificate(server.cert));
    EXPECT_EQ(public_key_of_key(pki.ca().key), public_key_of_certificate(pki.ca().cert));
}

TEST_F(TestPkiFiles, KeysAreOwnerOnlyAndCertificatesWorldReadable) {
    const PemFiles server = pki.issue_server("server", {"localhost"});
    const PemFiles client = pki.issue_client("client", "alice");
    const std::string crl = pki.write_crl("crl", {client.cert});
    for (const std::string &key : {pki.ca().key, server.key, client.key, pki.write_unrelated_key("unrelated")}) {
        EXPECT_EQ(permissions_of(key), 0600u) << key;
    }
    for (const std::string &cert : {pki.ca().cert, server.cert, client.cert, crl}) {
        EXPECT_EQ(permissions_of(cert), 0644u) << cert;
    }
    EXPECT_EQ(server.cert, (directory / "server.cert.pem").string());
    EXPECT_EQ(server.key, (directory / "server.key.pem").string());
}

TEST_F(TestPkiFiles, SerialNumbersAreUnique) {
    std::set<std::string> serials;
    std::vector<std::string> cert_files = {pki.ca().cert, pki.unknown_ca().cert};
    for (int index = 0; index < 5; ++index) {
        cert_files.push_back(pki.issue_server("server" + std::to_string(index), {"localhost"}).cert);
        cert_files.push_back(pki.issue_client("client" + std::to_string(index), "alice").cert);
    }
    cert_files.push_back(pki.issue_by_unknown_ca("stranger", "stranger").cert);
    for (const std::string &cert_file : cert_files) {
        const ShellOutcome serial = openssl("x509 -noout -serial -in " + quoted(cert_file));
        ASSERT_EQ(serial.exit_code, 0) << serial.output;
        EXPECT_TRUE(serials.insert(serial.output).second) << cert_file << " repeats " << serial.output;
    }
}

}  // namespace
}  // namespace sockhost::test
