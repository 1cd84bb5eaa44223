#include <sockhost/host/shared/address.hpp>

#include <gtest/gtest.h>

namespace {

using sockhost::parse_listen_address;
using sockhost::Transport;

TEST(ListenAddress, ParsesEveryTransport) {
    auto tcp = parse_listen_address("tcp://127.0.0.1:8080");
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->transport, Transport::tcp);
    EXPECT_EQ(tcp->host, "127.0.0.1");
    EXPECT_EQ(tcp->port, 8080);

    auto udp6 = parse_listen_address("udp://[::1]:53");
    ASSERT_TRUE(udp6);
    EXPECT_EQ(udp6->transport, Transport::udp);
    EXPECT_EQ(udp6->host, "::1");
    EXPECT_EQ(udp6->port, 53);
    EXPECT_EQ(udp6->text(), "udp://[::1]:53");

    auto unix_stream = parse_listen_address("unix:/run/sockhost.sock");
    ASSERT_TRUE(unix_stream);
    EXPECT_EQ(unix_stream->transport, Transport::unix_stream);
    EXPECT_EQ(unix_stream->path, "/run/sockhost.sock");

    auto unix_dgram = parse_listen_address("unix-dgram:relative/x.sock");
    ASSERT_TRUE(unix_dgram);
    EXPECT_EQ(unix_dgram->transport, Transport::unix_dgram);
    EXPECT_EQ(unix_dgram->path, "relative/x.sock");
}

TEST(ListenAddress, AnyHostAndPortZero) {
    auto any = parse_listen_address("tcp://*:0");
    ASSERT_TRUE(any);
    EXPECT_EQ(any->host, "");
    EXPECT_EQ(any->port, 0);
}

TEST(ListenAddress, RejectsWithTheReason) {
    const std::pair<const char *, const char *> cases[] = {
        {"http://127.0.0.1:80", "unknown scheme"},
        {"tcp://127.0.0.1", "missing ':PORT'"},
        {"tcp://127.0.0.1:http", "port 'http' is not a number"},
        {"tcp://127.0.0.1:65536", "port '65536' is not a number from 0 to 65535"},
        {"tcp://127.0.0.1:-1", "is not a number"},
        {"udp://[::1:53", "missing ']'"},
        {"udp://[::1]53", "missing ':PORT' after ']'"},
        {"tcp://::1:53", "brackets"},
        {"tcp://[]:53", "empty IPv6 host"},
        {"unix:", "empty socket path"},
    };
    for (const auto &[text, reason] : cases) {
        const auto result = parse_listen_address(text);
        ASSERT_FALSE(result) << text;
        EXPECT_NE(result.error().message.find(reason), std::string::npos) << result.error().message;
        EXPECT_NE(result.error().message.find(text), std::string::npos) << "error names the address";
    }
}

TEST(ListenAddress, RejectsUnixPathLongerThanSunPath) {
    const auto result = parse_listen_address("unix:/" + std::string(200, 'x'));
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("socket path longer than 107 bytes"), std::string::npos);
}

TEST(SocketAddress, FormatsResolvedAddresses) {
    auto v4 = sockhost::resolve_listen_address(*parse_listen_address("tcp://127.0.0.1:80"));
    ASSERT_TRUE(v4);
    EXPECT_EQ(sockhost::format_address(*v4), "127.0.0.1:80");
    auto v6 = sockhost::resolve_listen_address(*parse_listen_address("udp://[::1]:8053"));
    ASSERT_TRUE(v6);
    EXPECT_EQ(sockhost::format_address(*v6), "[::1]:8053");
    auto local = sockhost::resolve_listen_address(*parse_listen_address("unix:/tmp/a.sock"));
    ASSERT_TRUE(local);
    EXPECT_EQ(sockhost::format_address(*local), "unix:/tmp/a.sock");
}

}  // namespace

namespace {

// Digits and dots are an IPv4 address or a mistake: never a host name to look up.
TEST(ListenAddress, NumericHostThatIsNoIPv4AddressIsRefused) {
    for (const char *text : {"tcp://999.1.1.1:80", "udp://127.1:53", "tcp://1.2.3.4.5:80", "tcp://1..2.3:80"}) {
        const auto address = sockhost::parse_listen_address(text);
        ASSERT_FALSE(address) << text;
        EXPECT_NE(address.error().message.find("is not an IPv4 address"), std::string::npos) << address.error().message;
    }
    EXPECT_TRUE(sockhost::parse_listen_address("tcp://10.0.0.255:80"));
    EXPECT_TRUE(sockhost::parse_listen_address("tcp://localhost:80")) << "a name is still looked up at bind";
}

}  // namespace
