// ABI 1.5 through the C++ SDK and the harness: Request::peer_identity, with the identity
// probe (tests/plugins) and an Input that says who the peer is.
#include "plugin_paths.hpp"

#include <sockhost/plugin.hpp>
#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

namespace {

using sockhost::sdk::testing::Credentials;
using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::TlsIdentity;

const Plugin &probe() {
    static const Plugin plugin(sdk_test_plugin("sdk_identity"));
    return plugin;
}

TEST(PeerIdentity, APlainConnectionHasNoTlsAndNoCredentials) {
    const Instance instance(probe());
    ASSERT_TRUE(instance.ready()) << instance.create_error();
    const auto result = instance.serve(Input{});
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output,
              "tls=0 certificate=0 verified=0 resumed=0 subject= alt= verify_error= alpn= sni= version= uid=-1 gid=-1 "
              "pid=-1\n");
}

TEST(PeerIdentity, ATlsPeerAndAUnixPeerAreWhatTheInputSays) {
    const Instance instance(probe());
    Input tls;
    tls.tls = TlsIdentity{};
    tls.tls->subject = "CN=alice,O=Example";
    tls.tls->alt_names = {"URI:spiffe://example/alice", "email:alice@example.test"};
    tls.tls->alpn = "h2";
    tls.tls->server_name = "api.example.test";
    EXPECT_EQ(instance.serve(tls).output,
              "tls=1 certificate=1 verified=1 resumed=0 subject=CN=alice,O=Example "
              "alt=URI:spiffe://example/alice,email:alice@example.test verify_error= alpn=h2 sni=api.example.test "
              "version=TLSv1.3 uid=-1 gid=-1 pid=-1\n");
    Input unix_peer;
    unix_peer.transport = SOCKHOST_TRANSPORT_UNIX_STREAM;
    unix_peer.peer = "unix:(unbound)";
    unix_peer.credentials = Credentials{1000, 100, 4242};
    EXPECT_EQ(instance.serve(unix_peer).output,
              "tls=0 certificate=0 verified=0 resumed=0 subject= alt= verify_error= alpn= sni= version= uid=1000 "
              "gid=100 pid=4242\n");
}

// Under client_auth "optional" the plugin decides: this one refuses an unverified peer.
TEST(PeerIdentity, VerifySeesTheIdentityAndMayRefuseAnUnverifiedPeer) {
    const Instance instance(probe(), R"({"require_verified": true})");
    Input unverified;
    unverified.tls = TlsIdentity{};
    unverified.tls->verified = false;
    unverified.tls->verify_error = "unable to get local issuer certificate";
    const auto refused = instance.serve(unverified);
    EXPECT_EQ(refused.verify, false) << "refused in verify";
    EXPECT_EQ(refused.output, "");
    Input verified;
    verified.tls = TlsIdentity{};
    EXPECT_EQ(instance.serve(verified).verify, true);
}

}  // namespace
