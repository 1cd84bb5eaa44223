// The host's request I/O as plugins see it: lines at end of input, large replies to
// clients that send more than the plugin reads, and waits that must not overflow.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sockhost/host/shared/address.hpp>

#include <sys/socket.h>

#include <gtest/gtest.h>

namespace sockhost::test {
namespace {

TEST(RequestIo, LastLineWithoutNewlineIsStillALine) {
    for (const char *mode : {"sync", "threading", "forking", "event"}) {
        HostUnderTest host(probe_on(mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo hi"), "hi\n") << mode;
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo a\necho b"), "a\nb\n") << mode;
        const std::string long_last_line = "echo " + std::string(40000, 'x');
        EXPECT_EQ(stream_exchange(host.listening()[0], "echo a\n" + long_last_line).size(), 2u + 40001u)
            << mode << ": a last line longer than one read buffer";
    }
    for (const char *mode : {"sync", "event"}) {
        HostUnderTest datagrams(probe_on(mode, "udp://127.0.0.1:0"), {test_plugin("probe")});
        ASSERT_TRUE(datagrams.ready()) << datagrams.log();
        DatagramClient client(datagrams.listening()[0]);
        EXPECT_EQ(client.exchange("echo hi"), "hi\n") << mode;
    }
}

TEST(RequestIo, LargeReplyArrivesWholeWhenTheClientSentMoreThanWasRead) {
    for (const char *mode : {"threading", "forking", "event"}) {
        HostUnderTest host(probe_on(mode), {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        // The handler fails on "bogus" and never reads the rest: closing with that unread
        // would reset the connection and cut the reply still in flight.
        send_all(client.get(), "big 8000000\nbogus\n" + std::string(200000, 'z'));
        const std::string reply = read_until_eof(client.get(), std::chrono::seconds(30));
        EXPECT_EQ(reply.size(), 8000000u) << mode;
    }
}

TEST(RequestIo, HugeSleepIsAWaitNotAnOverflow) {
    for (const char *mode : {"threading", "event"}) {
        nlohmann::json config = probe_on(mode);
        config["drain_timeout"] = 0.2;
        HostUnderTest host(config, {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "sleep 18446744073709551615\n");
        ASSERT_TRUE(host.wait_for_log(" sleeping ")) << host.log();
        EXPECT_EQ(host.stop(SIGTERM), 0);
        EXPECT_EQ(read_until_eof(client.get()), "") << mode << ": still sleeping at the drain deadline, then cancelled";
        EXPECT_NE(host.log().find("sleep cancelled: the server is stopping"), std::string::npos) << host.log();
    }
}

TEST(RequestIo, SigintDuringAGracefulStopStopsAtOnce) {
    for (const char *mode : {"threading", "event"}) {
        nlohmann::json config = probe_on(mode);
        config["drain_timeout"] = 600;
        HostUnderTest host(config, {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        send_all(client.get(), "sleep 600000\n");
        ASSERT_TRUE(host.wait_for_log(" sleeping ")) << host.log();
        const pid_t worker = host.worker_pid();
        ::kill(host.pid(), SIGTERM);
        // The worker's own line, not the supervisor's: the SIGINT must reach a worker that
        // is already draining, or it is a plain "stop now" and this test checks nothing.
        ASSERT_TRUE(host.wait_for_log("sockhost[" + std::to_string(worker) + "] info: SIGTERM: stopping gracefully"))
            << host.log();
        EXPECT_EQ(host.stop(SIGINT), 0) << mode << ": the drain of 600 s was cut short";
        EXPECT_NE(host.log().find("while stopping: cancelling in-flight requests now"), std::string::npos)
            << host.log();
    }
}

TEST(RequestIo, HostTableReportsAddressesTransportAndTimeout) {
    for (const char *mode : {"sync", "event"}) {
        SCOPED_TRACE(mode);
        nlohmann::json config = {{"listeners",
                                  {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}, {"timeout", 7}, {"mode", mode}},
                                   {{"listen", "unix:who.sock"}, {"plugin", "probe"}, {"mode", mode}},
                                   {{"listen", "udp://[::1]:0"}, {"plugin", "probe"}, {"mode", mode}}}}};
        HostUnderTest host(config, {test_plugin("probe")});
        ASSERT_TRUE(host.ready()) << host.log();

        UniqueFd tcp = connect_stream(host.listening()[0]);
        send_all(tcp.get(), "whoami\ntimeout 250\ntimeout 18446744073709551615\n");
        const std::string listen_tcp = host.listening()[0].substr(std::string("tcp://").size());
        EXPECT_EQ(read_line(tcp.get()), local_address_of(tcp.get()) + " " + listen_tcp + " " +
                                            std::to_string(SOCKHOST_TRANSPORT_TCP) + " 16 16 7000\n");
        EXPECT_EQ(read_line(tcp.get()), "timeout 250\n");
        EXPECT_EQ(read_line(tcp.get()), "timeout 31536000000\n") << "UINT64_MAX is cut to a year";

        const std::string over_unix = stream_exchange(host.listening()[1], "whoami\n");
        EXPECT_EQ(over_unix, "unix:(unbound) " + host.listening()[1] + " " +
                                 std::to_string(SOCKHOST_TRANSPORT_UNIX_STREAM) + " 2 " +
                                 std::to_string(2 + host.listening()[1].size() - 5 + 1) + " 60000\n");

        DatagramClient udp(host.listening()[2]);
        const std::string over_udp = udp.exchange("whoami\n");
        EXPECT_NE(over_udp.find("[::1]:"), std::string::npos) << over_udp;
        EXPECT_NE(over_udp.find(" " + std::to_string(SOCKHOST_TRANSPORT_UDP) + " 28 28 "), std::string::npos) << over_udp;
    }
}

}  // namespace
}  // namespace sockhost::test
