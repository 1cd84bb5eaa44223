// Datagram semantics: the reply is what the plugin wrote, sent at finish; an empty reply
// sends nothing; long datagrams are truncated to max_packet_size and logged; an unbound
// Unix-datagram client is logged and serving continues. The same in event mode, where
// each datagram is a request on its own fiber.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace sockhost::test {
namespace {

const char *const kModes[] = {"sync", "event"};

nlohmann::json one_listener(const char *listen, const char *plugin, const char *mode,
                            nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json listener = {{"listen", listen}, {"plugin", plugin}, {"mode", mode}};
    listener.update(extra);
    return {{"listeners", {listener}}};
}

TEST(Datagram, EmptyReplyIsNotSent) {
    for (const char *mode : kModes) {
        HostUnderTest host(one_listener("udp://127.0.0.1:0", "probe", mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient client(host.listening()[0]);
        client.send("silent\n");
        client.send("echo second\n");
        EXPECT_EQ(client.receive(), "second\n") << mode << ": the first reply to arrive is the second request's";
    }
}

TEST(Datagram, ReplyIsEverythingWrittenAsOneDatagram) {
    for (const char *mode : kModes) {
        HostUnderTest host(one_listener("unix-dgram:kv.sock", "probe", mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient client(host.listening()[0]);
        EXPECT_EQ(client.exchange("big 3000\n").size(), 3000u) << mode;
        client.send("big 100000\n");
        EXPECT_TRUE(host.wait_for_log("the reply would exceed 65507 bytes, the largest datagram")) << host.log();
        EXPECT_EQ(client.receive(std::chrono::milliseconds(100)), std::nullopt) << mode << ": nothing fitted, so nothing is sent";
    }
}

// The largest UDP reply (65,507 bytes) is sent whole; one byte more is refused, logged and
// not sent, in every mode.
TEST(Datagram, LargestUdpReplyIsSentAndOneByteMoreIsRefused) {
    for (const char *mode : kModes) {
        HostUnderTest host(one_listener("udp://127.0.0.1:0", "probe", mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient client(host.listening()[0]);
        EXPECT_EQ(client.exchange("big 65507\n").size(), 65507u) << mode;
        client.send("big 65508\n");
        EXPECT_TRUE(host.wait_for_log("the reply would exceed 65507 bytes, the largest datagram")) << host.log();
        EXPECT_EQ(client.receive(std::chrono::milliseconds(200)), std::nullopt) << mode;
    }
}

TEST(Datagram, LongDatagramIsTruncatedToMaxPacketSizeAndLogged) {
    for (const char *mode : kModes) {
        HostUnderTest host(one_listener("udp://127.0.0.1:0", "echo", mode, {{"max_packet_size", 10}}),
                           {bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient client(host.listening()[0]);
        EXPECT_EQ(client.exchange("0123456789abcdef"), "0123456789") << mode;
        EXPECT_TRUE(host.wait_for_log("truncated from 16 to max_packet_size 10 bytes")) << host.log();
    }
}

// A flood of long datagrams costs a few log lines a second, not one per datagram; the
// next line says how many were left out.
TEST(Datagram, FloodOfLongDatagramsIsLoggedAtAFewLinesASecond) {
    HostUnderTest host(one_listener("udp://127.0.0.1:0", "echo", "sync", {{"max_packet_size", 10}}),
                       {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    for (int sent = 0; sent < 300; ++sent) EXPECT_EQ(client.exchange("0123456789abcdef"), "0123456789");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_EQ(client.exchange("0123456789abcdef"), "0123456789");
    ASSERT_TRUE(host.wait_for_log("more like it since the last one logged were not logged")) << host.log();
    const std::string log = host.log();
    const int lines = count_of(log, "truncated from 16");
    EXPECT_LE(lines, 31) << "at most 10 a second";
    EXPECT_GE(lines, 11);
}

TEST(Datagram, UnboundUnixClientIsLoggedAndServingContinues) {
    for (const char *mode : kModes) {
        HostUnderTest host(one_listener("unix-dgram:echo.sock", "echo", mode), {bundled_plugin("echo")});
        ASSERT_TRUE(host.ready()) << host.log();
        DatagramClient unbound(host.listening()[0], false);
        unbound.send("who am i");
        EXPECT_TRUE(host.wait_for_log("the unix-dgram client has no bound address")) << host.log();
        DatagramClient bound(host.listening()[0]);
        EXPECT_EQ(bound.exchange("next"), "next") << mode;
    }
}

TEST(Datagram, EventModeServesDatagramsConcurrentlyOnOneThread) {
    // Each datagram sleeps; all are in their handlers at once, so the replies to the later
    // ones are not held back by the earlier ones: the quick one answers first.
    HostUnderTest host(one_listener("udp://127.0.0.1:0", "probe", "event"), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    client.send("sleep 1500\n");
    client.send("echo quick\n");
    EXPECT_EQ(client.receive(), "quick\n") << "the sleeping datagram did not block the loop";
    EXPECT_EQ(client.receive(), "slept\n");
}

}  // namespace
}  // namespace sockhost::test
