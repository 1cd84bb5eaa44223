// TLS on stream listeners, seen by clients nobody here wrote: curl, openssl s_client and
// Python's ssl module, against the real host with certificates made at run time.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"
#include "test_pki.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

// The suite's certificates: a CA, a server certificate for localhost and 127.0.0.1, and
// the client certificates the mutual TLS tests present.
struct Certificates {
    TempDir dir;
    TestPki pki{dir.path().string()};
    PemFiles server = pki.issue_server("server", {"localhost"});
};

nlohmann::json tls_of(const PemFiles &server) { return {{"cert", server.cert}, {"key", server.key}}; }

nlohmann::json tls_listener(const std::string &listen, const char *plugin, const char *mode, nlohmann::json tls,
                            nlohmann::json plugin_config = nlohmann::json::object()) {
    return {{"listen", listen}, {"plugin", plugin}, {"mode", mode}, {"tls", std::move(tls)}, {"config", plugin_config}};
}

nlohmann::json one(nlohmann::json listener) {
    return {{"listeners", nlohmann::json::array({std::move(listener)})}, {"control_socket", "control.sock"}};
}

std::string port_text(const HostUnderTest &host, std::size_t listener = 0) { return std::to_string(host.port(listener)); }

// `openssl s_client` to the listener with `options`, sending `input` (printf's syntax)
// and ending the connection when its input ends, `hold` later (so that what the server
// sends after the handshake, e.g. TLS 1.3's session tickets, arrives): exit code and output.
ShellOutcome s_client(const HostUnderTest &host, const std::string &options, const std::string &input = "",
                      std::chrono::milliseconds hold = 0ms) {
    return run_command("(printf '" + input + "'; sleep " + std::to_string(hold.count() / 1000.0) +
                       ") | timeout 10 openssl s_client -connect 127.0.0.1:" + port_text(host) + " " + options + " 2>&1");
}

// An HTTP request the http plugin answers and then closes on, so that s_client (which,
// with -quiet, waits for the server's end) exits as soon as it is answered.
constexpr const char *kHttpGet = "GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n";

// The CN of the certificate the server presented to `s_client` (its output), or the
// output itself when there was none, for the failure message.
std::string presented_subject(const ShellOutcome &outcome) {
    std::smatch match;
    std::regex_search(outcome.output, match, std::regex("subject=CN ?= ?([^\\n]+)"));
    return match.size() > 1 ? match[1].str() : "(none) " + outcome.output;
}

CommandOutcome reload(const HostUnderTest &host) { return run_sockhost_command("reload -c " + host.config_path().string()); }

// curl over https, keep-alive: two requests on one connection.
TEST(Tls, CurlGetsTheHttpPluginOverTlsInEveryMode) {
    Certificates certificates;
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "http", mode, tls_of(certificates.server),
                                            {{"body", "over tls\n"}})),
                           {bundled_plugin("http")});
        ASSERT_TRUE(host.ready()) << host.log();
        const std::string url = "https://localhost:" + port_text(host) + "/";
        const auto fetched = run_command("curl -sS --max-time 10 --cacert " + certificates.pki.ca_bundle() +
                                         " --resolve localhost:" + port_text(host) + ":127.0.0.1 " + url + " " + url +
                                         " -w '[%{http_code} %{num_connects} %{ssl_verify_result}]'");
        EXPECT_EQ(fetched.exit_code, 0) << fetched.output;
        EXPECT_EQ(fetched.output, "over tls\n[200 1 0]over tls\n[200 0 0]") << "both on one verified connection";
        // The same port without TLS: the client's plain bytes are no handshake.
        const auto plain = run_command("curl -sS --max-time 5 http://127.0.0.1:" + port_text(host) + "/");
        EXPECT_NE(plain.exit_code, 0) << plain.output;
        EXPECT_TRUE(host.wait_for_log("TLS handshake failed for 127.0.0.1:")) << host.log();
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

// Python's ssl over a Unix socket: the echo plugin answers, and the connection ends with a
// close_notify (Python raises SSLEOFError at an end without one).
TEST(Tls, PythonSslOverAUnixSocketEndsWithCloseNotify) {
    Certificates certificates;
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        TempDir socket_dir;
        const std::string path = (socket_dir / "echo.sock").string();
        HostUnderTest host(one(tls_listener("unix:" + path, "echo", mode, tls_of(certificates.server))),
                           {bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        const std::string script =
            "import os, socket, ssl\n"
            "context = ssl.create_default_context(cafile='" + certificates.pki.ca_bundle() + "')\n"
            "raw = socket.socket(socket.AF_UNIX)\n"
            "raw.connect('" + path + "')\n"
            "tls = context.wrap_socket(raw, server_hostname='localhost')\n"
            "tls.sendall(b'hello over unix\\n')\n"
            "print(tls.recv(100).decode(), end='')\n"
            "print(tls.version())\n"
            "socket.socket(fileno=os.dup(tls.fileno())).shutdown(socket.SHUT_WR)\n"  // the plugin sees end of input
            "print('end:', tls.recv(100))\n";
        std::ofstream(socket_dir / "client.py") << script;
        const auto outcome = run_command("timeout 10 python3 " + (socket_dir / "client.py").string());
        EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
        EXPECT_EQ(outcome.output, "hello over unix\nTLSv1.3\nend: b''\n");
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

TEST(Tls, MinimumVersionIsTls12ByDefaultAnd13WhenAsked) {
    Certificates certificates;
    HostUnderTest by_default(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls_of(certificates.server))),
                             {bundled_plugin("echo")});
    ASSERT_TRUE(by_default.ready()) << by_default.log();
    EXPECT_EQ(s_client(by_default, "-tls1_2 -CAfile " + certificates.pki.ca_bundle(), "hi\\n").exit_code, 0);
    EXPECT_NE(s_client(by_default, "-tls1_1", "hi\\n").exit_code, 0) << "below 1.2: refused";
    auto tls = tls_of(certificates.server);
    tls["min_version"] = "1.3";
    HostUnderTest strict(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls)), {bundled_plugin("echo")});
    ASSERT_TRUE(strict.ready()) << strict.log();
    const auto refused = s_client(strict, "-tls1_2", "hi\\n");
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    const auto accepted = s_client(strict, "-tls1_3 -CAfile " + certificates.pki.ca_bundle(), "hi\\n");
    EXPECT_EQ(accepted.exit_code, 0) << accepted.output;
    EXPECT_NE(accepted.output.find("New, TLSv1.3"), std::string::npos) << accepted.output;
}

TEST(Tls, SniChoosesBetweenTwoCertificates) {
    Certificates certificates;
    const auto first = certificates.pki.issue_server("first", {"first.test"});
    const auto second = certificates.pki.issue_server("second", {"second.test", "*.second.test"});
    nlohmann::json tls = {{"certificates", {{{"cert", first.cert}, {"key", first.key}},
                                            {{"cert", second.cert}, {"key", second.key}}}}};
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "echo", "threading", tls)), {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto subject = [&](const std::string &name) {
        return presented_subject(s_client(host, (name.empty() ? "-noservername" : "-servername " + name), "hi\\n"));
    };
    EXPECT_EQ(subject("first.test"), "first.test");
    EXPECT_EQ(subject("second.test"), "second.test");
    EXPECT_EQ(subject("www.second.test"), "second.test") << "a wildcard name matches";
    EXPECT_EQ(subject("other.test"), "first.test") << "a name no certificate has: the first";
    EXPECT_EQ(subject(""), "first.test") << "no name: the first";
}

TEST(Tls, AlpnChoosesTheServersPreferredProtocolAndRefusesNone) {
    Certificates certificates;
    auto tls = tls_of(certificates.server);
    tls["alpn"] = {"h2", "http/1.1"};
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls)), {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto both = s_client(host, "-alpn http/1.1,h2", "hi\\n");
    EXPECT_NE(both.output.find("ALPN protocol: h2"), std::string::npos) << both.output;
    const auto one_protocol = s_client(host, "-alpn http/1.1", "hi\\n");
    EXPECT_NE(one_protocol.output.find("ALPN protocol: http/1.1"), std::string::npos) << one_protocol.output;
    const auto none = s_client(host, "-alpn spdy/1", "hi\\n");
    EXPECT_NE(none.exit_code, 0) << none.output;
    EXPECT_NE(none.output.find("no application protocol"), std::string::npos) << none.output;
    const auto without = s_client(host, "", "hi\\n");
    EXPECT_NE(without.output.find("No ALPN negotiated"), std::string::npos) << "a client that offers none is served";
}

TEST(Tls, MutualTlsRequireRefusesAClientWithoutAValidCertificate) {
    Certificates certificates;
    const auto client = certificates.pki.issue_client("client", "alice");
    const auto revoked = certificates.pki.issue_client("revoked", "mallory");
    const auto expired = certificates.pki.issue_client("expired", "old", {}, -48h, -24h);
    const auto stranger = certificates.pki.issue_by_unknown_ca("stranger", "eve");
    auto tls = tls_of(certificates.server);
    tls["client_ca"] = certificates.pki.ca_bundle();
    tls["crl"] = certificates.pki.write_crl("revocations", {revoked.cert});
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "http", "threading", tls, {{"body", "mutual\n"}})), {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto with = [&](const PemFiles &files) { return "-cert " + files.cert + " -key " + files.key; };
    const auto accepted = s_client(host, with(client) + " -quiet", kHttpGet);
    EXPECT_EQ(accepted.output.find("mutual\n") != std::string::npos, true) << accepted.output;
    for (const auto &[what, options] : std::vector<std::pair<std::string, std::string>>{
             {"no certificate", ""}, {"revoked", with(revoked)}, {"expired", with(expired)}, {"unknown CA", with(stranger)}}) {
        SCOPED_TRACE(what);
        const auto refused = s_client(host, options + " -quiet", kHttpGet);
        EXPECT_EQ(refused.output.find("mutual\n"), std::string::npos) << refused.output;
    }
    EXPECT_TRUE(host.wait_for_log("certificate revoked")) << host.log();
    EXPECT_TRUE(host.wait_for_log("certificate has expired")) << host.log();
    EXPECT_TRUE(host.wait_for_log("peer did not return a certificate")) << host.log();
}

TEST(Tls, MutualTlsOptionalServesAClientWithoutACertificate) {
    Certificates certificates;
    const auto stranger = certificates.pki.issue_by_unknown_ca("stranger", "eve");
    auto tls = tls_of(certificates.server);
    tls["client_ca"] = certificates.pki.ca_bundle();
    tls["client_auth"] = "optional";
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "http", "event", tls, {{"body", "anyone\n"}})), {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_NE(s_client(host, "-quiet", kHttpGet).output.find("anyone\n"), std::string::npos);
    EXPECT_NE(s_client(host, "-quiet -cert " + stranger.cert + " -key " + stranger.key, kHttpGet).output.find("anyone\n"),
              std::string::npos)
        << "an unverified certificate gets through; the plugin decides";
}

// A client that connects and never sends a ClientHello holds nothing past handshake_timeout.
TEST(Tls, ASlowHandshakeIsCutAtItsDeadline) {
    Certificates certificates;
    auto tls = tls_of(certificates.server);
    tls["handshake_timeout"] = 0.3;
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls)), {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    UniqueFd silent = connect_stream(host.listening()[0]);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(read_until_eof(silent.get(), 5s), "") << "closed, with nothing sent";
    EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "at the deadline, not at the 5 s patience";
    EXPECT_TRUE(host.wait_for_log("not finished within handshake_timeout (300 ms)")) << host.log();
    // A client that sends half a ClientHello and stops is cut the same way.
    UniqueFd trickling = connect_stream(host.listening()[0]);
    send_all(trickling.get(), std::string("\x16\x03\x01\x02\x00\x01", 6));
    EXPECT_EQ(read_until_eof(trickling.get(), 5s).size() < 100, true);
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// A failed handshake is its own outcome on /metrics, and an event-mode listener with the
// smallest fiber stacks handshakes (TLS 1.2 and 1.3, P-256) without overflowing them.
TEST(Tls, AFailedHandshakeIsCountedAndTheSmallestFiberStacksSuffice) {
    Certificates certificates;
    auto listener = tls_listener("tcp://127.0.0.1:0", "http", "event", tls_of(certificates.server), {{"body", "small\n"}});
    listener["fiber_stack_size"] = 16384;
    auto config = one(listener);
    config["admin"] = "unix:admin.sock";
    HostUnderTest host(config, {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    for (const char *version : {"1.2", "1.3"}) {
        const auto fetched = run_command("curl -sS --max-time 10 --tlsv" + std::string(version) + " --tls-max " + version +
                                         " --cacert " + certificates.pki.ca_bundle() + " https://127.0.0.1:" +
                                         port_text(host) + "/");
        EXPECT_EQ(fetched.output, "small\n") << version;
    }
    run_command("curl -s --max-time 5 http://127.0.0.1:" + port_text(host) + "/");
    run_command("curl -s --max-time 5 https://127.0.0.1:" + port_text(host) + "/");  // does not trust the CA
    const std::string series = "sockhost_requests_total{listener=\"tcp://127.0.0.1:0\",plugin=\"http\",mode=\"event\",outcome=";
    const auto exposition = scrape_until(admin_of(host), {{series + "\"handshake_failed\"}", "2"}, {series + "\"ok\"}", "2"}});
    EXPECT_EQ(metric_value(exposition, series + "\"handshake_failed\"}"), "2") << exposition;
    EXPECT_EQ(metric_value(exposition, series + "\"ok\"}"), "2") << exposition;
    EXPECT_EQ(count_of(host.log(), "overflowed"), 0) << host.log();
}

TEST(Tls, AnExpiredCertificateOrAWrongKeyIsAStartupErrorNamingTheFile) {
    Certificates certificates;
    const auto expired = certificates.pki.issue_server("expired", {"localhost"}, true, -48h, -24h);
    const auto failure = run_expecting_exit(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls_of(expired))),
                                            {bundled_plugin("echo")});
    EXPECT_NE(failure.exit_code, 0);
    EXPECT_NE(failure.log.find(expired.cert + ": the certificate expired on "), std::string::npos) << failure.log;
    const PemFiles mismatched{certificates.server.cert, certificates.pki.write_unrelated_key("unrelated")};
    const auto wrong_key = run_expecting_exit(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls_of(mismatched))),
                                              {bundled_plugin("echo")});
    EXPECT_NE(wrong_key.log.find(mismatched.key + ": the key does not match the certificate in " + mismatched.cert),
              std::string::npos)
        << wrong_key.log;
    const PemFiles missing{certificates.server.cert, (certificates.dir / "missing.key.pem").string()};
    const auto no_file = run_expecting_exit(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls_of(missing))),
                                            {bundled_plugin("echo")});
    EXPECT_NE(no_file.log.find("TLS file " + missing.key + ": No such file or directory"), std::string::npos) << no_file.log;
}

// Replacing the files and reloading rotates the certificate; a reload that brings a bad
// one fails, and the old generation keeps serving with the old certificate.
TEST(Tls, ReloadRotatesTheCertificateAndABadOneKeepsTheOld) {
    Certificates certificates;
    const PemFiles live{(certificates.dir / "live.cert.pem").string(), (certificates.dir / "live.key.pem").string()};
    const auto install = [&](const PemFiles &from) {
        std::filesystem::copy_file(from.cert, live.cert, std::filesystem::copy_options::overwrite_existing);
        std::filesystem::copy_file(from.key, live.key, std::filesystem::copy_options::overwrite_existing);
    };
    install(certificates.pki.issue_server("before", {"before.test"}));
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "echo", "threading", tls_of(live))),
                       {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto subject = [&] { return presented_subject(s_client(host, "-servername x", "hi\\n")); };
    EXPECT_EQ(subject(), "before.test");
    install(certificates.pki.issue_server("after", {"after.test"}));
    const auto rotated = reload(host);
    EXPECT_EQ(rotated.exit_code, 0) << rotated.output;
    EXPECT_EQ(subject(), "after.test");
    // A key that is not the certificate's: the reload fails, naming both files.
    std::filesystem::copy_file(certificates.pki.write_unrelated_key("bad"), live.key,
                               std::filesystem::copy_options::overwrite_existing);
    const auto refused = reload(host);
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.output.find(live.key + ": the key does not match the certificate in " + live.cert),
              std::string::npos)
        << refused.output;
    EXPECT_EQ(subject(), "after.test") << "the old generation still serves";
}

// The supervisor keeps the session-ticket secret: a session from before a reload resumes
// after it, without a full handshake.
TEST(Tls, ASessionResumesAcrossAReload) {
    Certificates certificates;
    for (const char *version : {"-tls1_2", "-tls1_3"}) {
        SCOPED_TRACE(version);
        HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls_of(certificates.server))),
                           {bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        const std::string session = (certificates.dir / "session.pem").string();
        const auto first = s_client(host, std::string(version) + " -sess_out " + session, "", 300ms);
        EXPECT_NE(first.output.find("New, TLS"), std::string::npos) << first.output;
        const auto again = s_client(host, std::string(version) + " -sess_in " + session, "hi\\n");
        EXPECT_NE(again.output.find("Reused, TLS"), std::string::npos) << "resumed in the same generation" << again.output;
        const auto reloaded = reload(host);
        ASSERT_EQ(reloaded.exit_code, 0) << reloaded.output;
        const auto after = s_client(host, std::string(version) + " -sess_in " + session, "hi\\n");
        EXPECT_NE(after.output.find("Reused, TLS"), std::string::npos) << "resumed after the reload" << after.output;
    }
}

// A resumed session skips the client certificate check: a ticket from a listener that
// asks for none must not resume at one that requires one (nor at one whose trusted CAs
// changed): it is a full handshake there, which asks for the certificate.
TEST(Tls, ASessionFromAnotherListenerIsNoWayAroundAClientCertificate) {
    Certificates certificates;
    auto strict = tls_of(certificates.server);
    strict["client_ca"] = certificates.pki.ca_bundle();
    nlohmann::json config = {{"listeners",
                              {tls_listener("tcp://127.0.0.1:0", "http", "event", tls_of(certificates.server),
                                            {{"body", "open\n"}}),
                               tls_listener("tcp://127.0.0.1:0", "http", "event", strict, {{"body", "strict\n"}})}}};
    HostUnderTest host(config, {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string session = (certificates.dir / "open-session.pem").string();
    for (const char *version : {"-tls1_2", "-tls1_3"}) {
        SCOPED_TRACE(version);
        const auto connect = [&](std::size_t listener, const std::string &options) {
            return run_command("(printf '" + std::string(kHttpGet) + "'; sleep 0.3) | timeout 10 openssl s_client " +
                               version + " -connect 127.0.0.1:" + std::to_string(host.port(listener)) + " " + options +
                               " 2>&1");
        };
        const auto open = connect(0, "-sess_out " + session);
        ASSERT_NE(open.output.find("open\n"), std::string::npos) << open.output;
        const auto same = connect(0, "-sess_in " + session);
        EXPECT_NE(same.output.find("Reused, TLS"), std::string::npos) << "it resumes where it was issued" << same.output;
        const auto elsewhere = connect(1, "-sess_in " + session);
        EXPECT_EQ(elsewhere.output.find("Reused, TLS"), std::string::npos) << elsewhere.output;
        EXPECT_EQ(elsewhere.output.find("strict\n"), std::string::npos) << "no certificate, no request" << elsewhere.output;
    }
}

// A TLS session's state is in its worker: at a reload an idle TLS connection is not moved
// but closed, with a close_notify, like any idle connection of a stopping server.
TEST(Tls, AnIdleTlsConnectionIsClosedWithCloseNotifyAtAReload) {
    Certificates certificates;
    TempDir client_dir;
    HostUnderTest host(one(tls_listener("tcp://127.0.0.1:0", "echo", "event", tls_of(certificates.server))),
                       {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string script =
        "import socket, ssl, subprocess, sys\n"
        "context = ssl.create_default_context(cafile='" + certificates.pki.ca_bundle() + "')\n"
        "tls = context.wrap_socket(socket.create_connection(('127.0.0.1', " + port_text(host) + ")), server_hostname='localhost')\n"
        "tls.sendall(b'before\\n')\n"
        "print(tls.recv(100).decode(), end='')\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "tls.settimeout(10)\n"
        "print('end:', tls.recv(100))\n";
    std::ofstream(client_dir / "client.py") << script;
    const auto outcome = run_command("timeout 20 python3 " + (client_dir / "client.py").string() + " " +
                                     sockhost_binary().string() + " reload -c " + host.config_path().string());
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_EQ(outcome.output, "before\nend: b''\n") << "a clean end (close_notify), not SSLEOFError";
}

TEST(Tls, ConfigErrorsNameTheKeyAndTheReason) {
    Certificates certificates;
    const auto failure_of = [&](nlohmann::json listener) {
        return run_expecting_exit(one(std::move(listener)), {bundled_plugin("echo")}).log;
    };
    auto on_udp = tls_listener("udp://127.0.0.1:0", "echo", "sync", tls_of(certificates.server));
    EXPECT_NE(failure_of(on_udp).find("listeners[0].tls: only tcp and unix listeners carry TLS"), std::string::npos);
    auto no_ca = tls_listener("tcp://127.0.0.1:0", "echo", "sync", tls_of(certificates.server));
    no_ca["tls"]["client_auth"] = "require";
    EXPECT_NE(failure_of(no_ca).find("listeners[0].tls.client_auth: 'require' needs client_ca"), std::string::npos);
    auto bad_version = tls_listener("tcp://127.0.0.1:0", "echo", "sync", tls_of(certificates.server));
    bad_version["tls"]["min_version"] = "1.1";
    EXPECT_NE(failure_of(bad_version).find("listeners[0].tls.min_version: '1.1' is not a version"), std::string::npos);
    auto bad_ciphers = tls_listener("tcp://127.0.0.1:0", "echo", "sync", tls_of(certificates.server));
    bad_ciphers["tls"]["ciphers"] = "NOT-A-CIPHER";
    EXPECT_NE(failure_of(bad_ciphers).find("tls.ciphers 'NOT-A-CIPHER': no cipher match"), std::string::npos);
    auto unknown = tls_listener("tcp://127.0.0.1:0", "echo", "sync", tls_of(certificates.server));
    unknown["tls"]["certs"] = "x";
    EXPECT_NE(failure_of(unknown).find("listeners[0].tls.certs: unknown key"), std::string::npos);
    auto not_pem = tls_listener("tcp://127.0.0.1:0", "echo", "sync", {{"cert", certificates.server.key}, {"key", certificates.server.key}});
    EXPECT_NE(failure_of(not_pem).find(certificates.server.key + ": holds no certificate"), std::string::npos)
        << failure_of(not_pem);
}

}  // namespace
}  // namespace sockhost::test
