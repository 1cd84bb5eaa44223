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

namespace {

using namespace std::string_literals;

// The text form names a listener in the log and in errors, and decides whether two
// listeners share an address: it must read back as the address it came from. A bracket
// inside the host broke that ("udp://[[::1]:53" printed as "udp://[[::1:53").
TEST(ListenAddress, HostWithABracketInsideIsRefused) {
    for (const char *text : {"udp://[[::1]:53", "tcp://[a[b]:80", "tcp://a]b:80", "tcp://[x:80"}) {
        const auto address = parse_listen_address(text);
        ASSERT_FALSE(address) << text << " was read as host '" << address->host << "'";
        EXPECT_NE(address.error().message.find(text), std::string::npos) << address.error().message;
    }
}

// A NUL byte (JSON's "\u0000") would end the host or path where getaddrinfo, bind and
// unlink read it: the host would listen on something other than what it logs.
TEST(ListenAddress, NulByteIsRefused) {
    for (const std::string &text : {"tcp://127.0.0.1\0.evil:80"s, "udp://[::1\0]:53"s, "unix:/run/a.sock\0b"s,
                                   "unix-dgram:/run/\0x"s}) {
        const auto address = parse_listen_address(text);
        ASSERT_FALSE(address) << "accepted a NUL byte";
        EXPECT_NE(address.error().message.find("NUL byte"), std::string::npos) << address.error().message;
    }
}

TEST(ListenAddress, TextReadsBackAsTheSameAddress) {
    for (const char *text : {"tcp://127.0.0.1:8080", "udp://[::1]:53", "tcp://*:0", "tcp://[localhost]:1",
                             "udp://[fe80::1%eth0]:5353", "unix:/run/x.sock", "unix-dgram:rel/x"}) {
        const auto address = parse_listen_address(text);
        ASSERT_TRUE(address) << text;
        const auto again = parse_listen_address(address->text());
        ASSERT_TRUE(again) << address->text();
        EXPECT_EQ(again->text(), address->text());
        EXPECT_EQ(again->host, address->host);
        EXPECT_EQ(again->path, address->path);
    }
}

}  // namespace
