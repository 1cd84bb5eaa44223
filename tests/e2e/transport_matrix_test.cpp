// Every transport x mode, against the real binary and the real echo plugin: three
// sequential clients each get their own bytes back.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <tuple>

namespace sockhost::test {
namespace {

struct TransportCase {
    const char *name;
    const char *listen;  // "{dir}" is replaced by the test's directory
    bool datagram;
};

const TransportCase kTransports[] = {
    {"tcp", "tcp://127.0.0.1:0", false},
    {"tcp6", "tcp://[::1]:0", false},
    {"udp", "udp://127.0.0.1:0", true},
    {"udp6", "udp://[::1]:0", true},
    {"unix", "unix:echo.sock", false},
    {"unix_dgram", "unix-dgram:echo-dgram.sock", true},
};
void PrintTo(const TransportCase &transport, std::ostream *out) { *out << transport.name; }

const char *const kModes[] = {"sync", "threading", "forking", "event"};

class TransportModeMatrix : public ::testing::TestWithParam<std::tuple<TransportCase, const char *>> {};

TEST_P(TransportModeMatrix, ThreeSequentialClientsAreEchoed) {
    const auto &[transport, mode] = GetParam();
    HostUnderTest host({{"listeners", {{{"listen", transport.listen}, {"plugin", "echo"}, {"mode", mode}}}}},
                       {bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    ASSERT_EQ(host.listening().size(), 1u);
    const std::string address = host.listening()[0];
    if (address.find("://") != std::string::npos) {
        EXPECT_NE(host.port(0), 0) << "the log shows the port as bound, not 0: " << address;
    }
    for (int client = 0; client < 3; ++client) {
        const std::string message = "client " + std::to_string(client) + " via " + transport.name + "/" + mode + "\n";
        if (transport.datagram) {
            DatagramClient datagram(address);
            EXPECT_EQ(datagram.exchange(message), message);
        } else {
            EXPECT_EQ(stream_exchange(address, message), message);
        }
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

INSTANTIATE_TEST_SUITE_P(EveryCell, TransportModeMatrix,
                         ::testing::Combine(::testing::ValuesIn(kTransports), ::testing::ValuesIn(kModes)),
                         [](const auto &cell) {
                             return std::string(std::get<0>(cell.param).name) + "_" + std::get<1>(cell.param);
                         });

}  // namespace
}  // namespace sockhost::test
