// Who the peer is (ABI 1.5's peer_identity) in the real host: what a TLS client proved
// with openssl s_client, a Unix peer's credentials from Python, and the listener-level
// rules an operator sets (allow_users, allow_groups, client_auth).
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"
#include "test_pki.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

namespace sockhost::test {
namespace {

nlohmann::json identity_listener(const std::string &listen, const char *mode,
                                 nlohmann::json plugin_config = nlohmann::json::object()) {
    return {{"listen", listen}, {"plugin", "identity_probe"}, {"mode", mode}, {"config", std::move(plugin_config)}};
}

nlohmann::json one(nlohmann::json listener) { return {{"listeners", nlohmann::json::array({std::move(listener)})}}; }

// The probe's line for an s_client connection with `options` (empty when refused); what
// s_client prints of its own (the chain it verified) comes before it.
std::string identity_over_tls(const HostUnderTest &host, const std::string &options) {
    const auto outcome = run_command("timeout 10 openssl s_client -quiet -connect 127.0.0.1:" +
                                     std::to_string(host.port(0)) + " " + options + " </dev/null 2>/dev/null");
    const auto start = outcome.output.find("tls=");
    return start == std::string::npos ? std::string() : outcome.output.substr(start);
}

TEST(PeerIdentity, ATlsClientsCertificateVerificationAlpnAndSniReachThePlugin) {
    TempDir dir;
    TestPki pki(dir.path().string());
    const auto server = pki.issue_server("server", {"localhost", "api.test"});
    const auto alice = pki.issue_client("alice", "alice", {"URI:spiffe://test/alice", "email:alice@example.test"});
    const auto stranger = pki.issue_by_unknown_ca("stranger", "eve");
    nlohmann::json tls = {{"cert", server.cert}, {"key", server.key}, {"client_ca", pki.ca_bundle()},
                          {"client_auth", "optional"}, {"alpn", {"http/1.1"}}};
    for (const char *mode : {"threading", "forking", "event"}) {
        SCOPED_TRACE(mode);
        auto listener = identity_listener("tcp://127.0.0.1:0", mode);
        listener["tls"] = tls;
        HostUnderTest host(one(listener), {test_plugin("identity_probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(identity_over_tls(host, "-cert " + alice.cert + " -key " + alice.key +
                                              " -servername api.test -alpn http/1.1 -tls1_3"),
                  "tls=1 certificate=1 verified=1 resumed=0 subject=CN=alice "
                  "alt=URI:spiffe://test/alice,email:alice@example.test verify_error= alpn=http/1.1 sni=api.test "
                  "version=TLSv1.3 uid=-1 gid=-1 pid=-1\n");
        EXPECT_EQ(identity_over_tls(host, "-tls1_2"),
                  "tls=1 certificate=0 verified=0 resumed=0 subject= alt= verify_error= alpn= sni= "
                  "version=TLSv1.2 uid=-1 gid=-1 pid=-1\n")
            << "no certificate: served under optional (and no SNI: s_client sends none for an IP address)";
        EXPECT_EQ(identity_over_tls(host, "-cert " + stranger.cert + " -key " + stranger.key + " -noservername"),
                  "tls=1 certificate=1 verified=0 resumed=0 subject=CN=eve alt=DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1 "
                  "verify_error=unable to verify the first certificate alpn= sni= version=TLSv1.3 uid=-1 gid=-1 pid=-1\n");
    }
}

// Under client_auth "optional" the plugin decides in verify, which sees the identity.
TEST(PeerIdentity, APluginsVerifyRefusesAnUnverifiedTlsPeer) {
    TempDir dir;
    TestPki pki(dir.path().string());
    const auto server = pki.issue_server("server", {"localhost"});
    const auto alice = pki.issue_client("alice", "alice");
    auto listener = identity_listener("tcp://127.0.0.1:0", "event", {{"require_verified", true}});
    listener["tls"] = {{"cert", server.cert}, {"key", server.key}, {"client_ca", pki.ca_bundle()},
                       {"client_auth", "optional"}};
    HostUnderTest host(one(listener), {test_plugin("identity_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(identity_over_tls(host, ""), "") << "refused by verify: no line";
    EXPECT_TRUE(host.wait_for_log("refused 127.0.0.1:")) << host.log();
    EXPECT_NE(identity_over_tls(host, "-cert " + alice.cert + " -key " + alice.key).find("verified=1"), std::string::npos);
}

std::string identity_over_unix(const std::string &path, const std::string &script_dir) {
    const std::string script = "import os, socket\n"
                               "client = socket.socket(socket.AF_UNIX)\n"
                               "client.connect('" + path + "')\n"
                               "print('pid=%d' % os.getpid())\n"
                               "print(client.makefile().readline(), end='')\n";
    std::ofstream(script_dir + "/client.py") << script;
    return run_command("timeout 10 python3 " + script_dir + "/client.py").output;
}

TEST(PeerIdentity, AUnixPeersUidGidAndPidReachThePlugin) {
    TempDir dir;
    const std::string path = (dir / "identity.sock").string();
    HostUnderTest host(one(identity_listener("unix:" + path, "threading")), {test_plugin("identity_probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string output = identity_over_unix(path, dir.path().string());
    const std::string pid = output.substr(0, output.find('\n')).substr(4);
    EXPECT_EQ(output, "pid=" + pid + "\ntls=0 certificate=0 verified=0 resumed=0 subject= alt= verify_error= alpn= sni= "
                      "version= uid=" + std::to_string(::getuid()) + " gid=" + std::to_string(::getgid()) +
                      " pid=" + pid + "\n");
}

TEST(PeerIdentity, AllowUsersAndAllowGroupsAdmitOnlyTheListedPeers) {
    TempDir dir;
    const std::string path = (dir / "identity.sock").string();
    const auto serve_with = [&](nlohmann::json rules) {
        auto listener = identity_listener("unix:" + path, "event");
        listener.update(rules);
        return std::make_unique<HostUnderTest>(one(listener), std::vector<std::filesystem::path>{test_plugin("identity_probe")});
    };
    const std::string own_uid = std::to_string(::getuid());
    {
        auto host = serve_with({{"allow_users", {::getuid()}}});
        ASSERT_TRUE(host->ready()) << host->log();
        EXPECT_NE(identity_over_unix(path, dir.path().string()).find("uid=" + own_uid), std::string::npos);
    }
    {
        auto host = serve_with({{"allow_users", {"nobody"}}});  // uid 65534: not the test's
        ASSERT_TRUE(host->ready()) << host->log();
        EXPECT_EQ(identity_over_unix(path, dir.path().string()).find("tls="), std::string::npos) << "refused";
        EXPECT_TRUE(host->wait_for_log("(uid " + own_uid + ", gid " + std::to_string(::getgid())));
        EXPECT_TRUE(host->wait_for_log("by allow_users/allow_groups")) << host->log();
    }
    {
        auto host = serve_with({{"allow_users", {"nobody"}}, {"allow_groups", {::getgid()}}});
        ASSERT_TRUE(host->ready()) << host->log();
        EXPECT_NE(identity_over_unix(path, dir.path().string()).find("uid=" + own_uid), std::string::npos)
            << "its group is listed";
    }
    auto unknown_user = identity_listener("unix:" + path, "event");
    unknown_user["allow_users"] = {"no-such-user-here"};
    const auto unknown = run_expecting_exit(one(unknown_user), {test_plugin("identity_probe")});
    EXPECT_NE(unknown.log.find("listeners[0].allow_users[0]: no such user 'no-such-user-here'"), std::string::npos)
        << unknown.log;
    auto on_tcp = identity_listener("tcp://127.0.0.1:0", "event");
    on_tcp["allow_users"] = {0};
    EXPECT_NE(run_expecting_exit(one(on_tcp), {test_plugin("identity_probe")}).log.find(
                  "listeners[0].allow_users: only a unix (stream) listener knows its peer's user"),
              std::string::npos);
}

}  // namespace
}  // namespace sockhost::test
