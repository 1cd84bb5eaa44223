// Datagram semantics: the reply is what the plugin wrote, sent at finish; an empty reply
// sends nothing; long datagrams are truncated to max_packet_size and logged; an unbound
// Unix-datagram client is logged and serving continues.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

namespace sockhost::test {
namespace {

TEST(Datagram, EmptyReplyIsNotSent) {
    HostUnderTest host({{"listeners", {{{"listen", "udp://127.0.0.1:0"}, {"plugin", "probe"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    client.send("silent\n");
    client.send("echo second\n");
    EXPECT_EQ(client.receive(), "second\n") << "the first reply to arrive is the second request's";
}

TEST(Datagram, ReplyIsEverythingWrittenAsOneDatagram) {
    HostUnderTest host({{"listeners", {{{"listen", "unix-dgram:kv.sock"}, {"plugin", "probe"}}}}},
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    EXPECT_EQ(client.exchange("big 3000\n").size(), 3000u);
    client.send("big 100000\n");
    EXPECT_TRUE(host.wait_for_log("the reply would exceed 65507 bytes, the largest datagram")) << host.log();
    EXPECT_EQ(client.receive(std::chrono::milliseconds(100)), std::nullopt) << "nothing fitted, so nothing is sent";
}

TEST(Datagram, LongDatagramIsTruncatedToMaxPacketSizeAndLogged) {
    HostUnderTest host(
        {{"listeners", {{{"listen", "udp://127.0.0.1:0"}, {"plugin", "echo"}, {"max_packet_size", 10}}}}},
        {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    EXPECT_EQ(client.exchange("0123456789abcdef"), "0123456789");
    EXPECT_TRUE(host.wait_for_log("truncated from 16 to max_packet_size 10 bytes")) << host.log();
}

TEST(Datagram, UnboundUnixClientIsLoggedAndServingContinues) {
    HostUnderTest host({{"listeners", {{{"listen", "unix-dgram:echo.sock"}, {"plugin", "echo"}}}}},
                       {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient unbound(host.listening()[0], false);
    unbound.send("who am i");
    EXPECT_TRUE(host.wait_for_log("the unix-dgram client has no bound address")) << host.log();
    DatagramClient bound(host.listening()[0]);
    EXPECT_EQ(bound.exchange("next"), "next");
}

}  // namespace
}  // namespace sockhost::test
