#include <sockhost/host/shared/access_list.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cstring>

namespace {

using sockhost::AccessList;
using sockhost::parse_cidr;
using sockhost::SocketAddress;

SocketAddress peer(const char *ip) {
    SocketAddress address;
    if (std::strchr(ip, ':') != nullptr) {
        auto *inet6 = reinterpret_cast<sockaddr_in6 *>(&address.storage);
        inet6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &inet6->sin6_addr);
        address.length = sizeof *inet6;
    } else {
        auto *inet = reinterpret_cast<sockaddr_in *>(&address.storage);
        inet->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &inet->sin_addr);
        address.length = sizeof *inet;
    }
    return address;
}

TEST(Cidr, MatchesPrefixes) {
    const auto block = parse_cidr("10.1.0.0/16");
    ASSERT_TRUE(block);
    EXPECT_TRUE(block->contains(peer("10.1.200.3")));
    EXPECT_FALSE(block->contains(peer("10.2.0.1")));
    const auto odd = parse_cidr("192.168.1.128/25");
    ASSERT_TRUE(odd);
    EXPECT_TRUE(odd->contains(peer("192.168.1.200")));
    EXPECT_FALSE(odd->contains(peer("192.168.1.127")));
    const auto host = parse_cidr("127.0.0.2");
    ASSERT_TRUE(host);
    EXPECT_TRUE(host->contains(peer("127.0.0.2")));
    EXPECT_FALSE(host->contains(peer("127.0.0.1")));
    const auto everything = parse_cidr("0.0.0.0/0");
    ASSERT_TRUE(everything);
    EXPECT_TRUE(everything->contains(peer("8.8.8.8")));
    EXPECT_FALSE(everything->contains(peer("::1"))) << "an IPv4 block never matches an IPv6 peer";
}

TEST(Cidr, Ipv6AndMappedIpv4) {
    const auto loopback6 = parse_cidr("::1");
    ASSERT_TRUE(loopback6);
    EXPECT_TRUE(loopback6->contains(peer("::1")));
    const auto unique_local = parse_cidr("fd00::/8");
    ASSERT_TRUE(unique_local);
    EXPECT_TRUE(unique_local->contains(peer("fd12:3456::1")));
    const auto loopback4 = parse_cidr("127.0.0.0/8");
    ASSERT_TRUE(loopback4);
    EXPECT_TRUE(loopback4->contains(peer("::ffff:127.0.0.1"))) << "IPv4-mapped peers match IPv4 rules";
}

TEST(Cidr, RejectsBadText) {
    for (const char *text : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "localhost", "300.1.1.1"}) {
        const auto result = parse_cidr(text);
        ASSERT_FALSE(result) << text;
        EXPECT_NE(result.error().message.find(text), std::string::npos) << result.error().message;
    }
}

TEST(AccessList, DenyWinsAndEmptyAllowPermitsTheRest) {
    AccessList access;
    EXPECT_TRUE(access.permits(peer("1.2.3.4")));
    access.deny.push_back(*parse_cidr("10.0.0.0/8"));
    EXPECT_FALSE(access.permits(peer("10.9.9.9")));
    EXPECT_TRUE(access.permits(peer("11.0.0.1")));
    access.allow.push_back(*parse_cidr("10.0.0.0/8"));
    access.allow.push_back(*parse_cidr("127.0.0.1"));
    EXPECT_FALSE(access.permits(peer("10.1.1.1"))) << "deny is checked before allow";
    EXPECT_TRUE(access.permits(peer("127.0.0.1")));
    EXPECT_FALSE(access.permits(peer("11.0.0.1"))) << "a non-empty allow list admits only its members";
}

// Peers that reach a dual-stack listener as ::ffff:a.b.c.d are matched as IPv4, so an entry
// written in that form must be an IPv4 entry too: it used to match nobody, and a deny
// entry "::ffff:10.0.0.1" let 10.0.0.1 in.
TEST(Cidr, Ipv4MappedEntryIsAnIpv4Entry) {
    AccessList access;
    access.deny.push_back(*parse_cidr("::ffff:10.0.0.1"));
    EXPECT_FALSE(access.permits(peer("10.0.0.1")));
    EXPECT_FALSE(access.permits(peer("::ffff:10.0.0.1")));
    EXPECT_TRUE(access.permits(peer("10.0.0.2")));

    const auto block = parse_cidr("::ffff:192.168.0.0/112");
    ASSERT_TRUE(block);
    EXPECT_TRUE(block->contains(peer("192.168.7.7")));
    EXPECT_TRUE(block->contains(peer("::ffff:192.168.7.7")));
    EXPECT_FALSE(block->contains(peer("192.169.0.1")));
    const auto every_ipv4 = parse_cidr("::ffff:0:0/96");
    ASSERT_TRUE(every_ipv4);
    EXPECT_TRUE(every_ipv4->contains(peer("8.8.8.8")));
    EXPECT_FALSE(every_ipv4->contains(peer("::1")));
    const auto wider = parse_cidr("::/0");
    ASSERT_TRUE(wider);
    EXPECT_TRUE(wider->contains(peer("::1")));
    EXPECT_FALSE(wider->contains(peer("8.8.8.8"))) << "an IPv6 block shorter than /96 stays IPv6";
}

// inet_pton reads up to a NUL byte (JSON's "\u0000"): "10.0.0.1\0junk" must not pass for 10.0.0.1.
TEST(Cidr, NulByteIsRefused) {
    const std::string text("10.0.0.1\0junk", 13);
    const auto result = parse_cidr(text);
    ASSERT_FALSE(result) << "accepted a NUL byte";
    EXPECT_NE(result.error().message.find("NUL byte"), std::string::npos) << result.error().message;
}

}  // namespace
