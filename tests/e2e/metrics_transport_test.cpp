// Exact host metrics on /metrics for every transport and mode (docs/operations.md, "When
// the counters move"): requests by outcome, connections, bytes and durations, read from the
// real binary's admin endpoint after a known exchange; and datagrams cut at max_packet_size.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <gtest/gtest.h>

#include <tuple>

namespace sockhost::test {
namespace {

struct TransportCase {
    const char *name;
    const char *listen;  // relative unix paths are under the test's directory
    bool datagram;
};
void PrintTo(const TransportCase &transport, std::ostream *out) { *out << transport.name; }

const TransportCase kUdp{"udp", "udp://127.0.0.1:0", true};
const TransportCase kUnixDgram{"unix_dgram", "unix-dgram:metrics-dgram.sock", true};
const TransportCase kTransports[] = {
    {"tcp", "tcp://127.0.0.1:0", false},
    {"unix", "unix:metrics.sock", false},
    kUdp,
    kUnixDgram,
};
const char *const kModes[] = {"sync", "threading", "forking", "event"};

// A probe request and its answer: 8 bytes in, 3 bytes out; kFailing: 9 in, none out.
const std::string kRequest = "echo hi\n";
const std::string kAnswer = "hi\n";
constexpr int kRequests = 3;
const std::string kFailing = "nonsense\n";

nlohmann::json admin_config(nlohmann::json listener) {
    return {{"admin", "unix:admin.sock"}, {"listeners", {std::move(listener)}}};
}


class MetricsPerTransport : public ::testing::TestWithParam<std::tuple<TransportCase, const char *>> {};

TEST_P(MetricsPerTransport, CountRequestsConnectionsBytesAndDurationsExactly) {
    const auto &[transport, mode] = GetParam();
    HostUnderTest host(admin_config({{"listen", transport.listen}, {"plugin", "probe"}, {"mode", mode}}),
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string address = host.listening()[0];
    for (int request = 0; request < kRequests; ++request) {
        if (transport.datagram) {
            DatagramClient client(address);
            ASSERT_EQ(client.exchange(kRequest), kAnswer) << host.log();
        } else {
            ASSERT_EQ(stream_exchange(address, kRequest), kAnswer) << host.log();
        }
    }
    // And one the probe fails (it throws on a command it does not know): no answer.
    if (transport.datagram) {
        DatagramClient(address).send(kFailing);
    } else {
        EXPECT_EQ(stream_exchange(address, kFailing), "");
    }
    // The label is the configured address, a relative unix path resolved against the
    // config file's directory (as the host logs it).
    const std::string label = std::string(transport.listen).starts_with("unix") ? address : transport.listen;
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, label, "probe", mode, extra);
    };
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    const std::string open = series("sockhost_connections_open");
    const std::string error = series("sockhost_requests_total", "outcome=\"error\"");
    const std::string requests = std::to_string(kRequests);
    const std::string exposition = scrape_until(admin_of(host), {{ok, requests}, {error, "1"}, {open, "0"}});
    EXPECT_EQ(metric_value(exposition, ok), requests) << exposition;
    EXPECT_EQ(metric_value(exposition, error), "1");
    EXPECT_EQ(metric_value(exposition, series("sockhost_requests_total", "outcome=\"timeout\"")), "0");
    EXPECT_EQ(metric_value(exposition, series("sockhost_request_duration_seconds_count")), std::to_string(kRequests + 1));
    EXPECT_EQ(metric_value(exposition, series("sockhost_received_bytes_total")),
              std::to_string(kRequests * kRequest.size() + kFailing.size()));
    EXPECT_EQ(metric_value(exposition, series("sockhost_sent_bytes_total")),
              std::to_string(kRequests * kAnswer.size()));
    // A datagram listener accepts no connection: its connection families stay at 0.
    EXPECT_EQ(metric_value(exposition, series("sockhost_connections_accepted_total")),
              transport.datagram ? "0" : std::to_string(kRequests + 1));
    EXPECT_EQ(metric_value(exposition, open), "0");
    EXPECT_EQ(metric_value(exposition, series("sockhost_datagrams_truncated_total")), "0");
    EXPECT_EQ(metric_value(exposition, series("sockhost_accept_errors_total")), "0");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

INSTANTIATE_TEST_SUITE_P(EveryCell, MetricsPerTransport,
                         ::testing::Combine(::testing::ValuesIn(kTransports), ::testing::ValuesIn(kModes)),
                         [](const auto &cell) {
                             return std::string(std::get<0>(cell.param).name) + "_" + std::get<1>(cell.param);
                         });

// A long-lived connection's bytes show up request by request (at every between_requests),
// while it is open and before it counts as a request.
class MetricsKeepAlive : public ::testing::TestWithParam<const char *> {};

TEST_P(MetricsKeepAlive, BytesShowUpAtEachBetweenRequests) {
    const std::string mode = GetParam();
    const std::string listen = "tcp://127.0.0.1:0";
    HostUnderTest host(admin_config({{"listen", listen}, {"plugin", "probe"}, {"mode", mode}}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, listen, "probe", mode, extra);
    };
    const std::string received = series("sockhost_received_bytes_total");
    const std::string sent = series("sockhost_sent_bytes_total");
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    const std::string open = series("sockhost_connections_open");
    UniqueFd connection = connect_stream(host.listening()[0]);
    for (int exchange = 1; exchange <= 2; ++exchange) {
        send_all(connection.get(), kRequest);
        ASSERT_EQ(read_line(connection.get()), kAnswer);
        const std::string in = std::to_string(exchange * kRequest.size());
        const std::string out = std::to_string(exchange * kAnswer.size());
        const std::string exposition = scrape_until(admin_of(host), {{received, in}, {sent, out}});
        EXPECT_EQ(metric_value(exposition, received), in) << exposition;
        EXPECT_EQ(metric_value(exposition, sent), out);
        EXPECT_EQ(metric_value(exposition, open), "1");
        EXPECT_EQ(metric_value(exposition, ok), "0") << "still open: no request has ended";
    }
    connection.reset();
    const std::string closed = scrape_until(admin_of(host), {{ok, "1"}, {open, "0"}});
    EXPECT_EQ(metric_value(closed, ok), "1") << closed;
    EXPECT_EQ(metric_value(closed, open), "0");
    EXPECT_EQ(metric_value(closed, received), std::to_string(2 * kRequest.size()));
    EXPECT_EQ(metric_value(closed, sent), std::to_string(2 * kAnswer.size()));
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsKeepAlive, ::testing::ValuesIn(kModes),
                         [](const auto &cell) { return std::string(cell.param); });

class MetricsTruncation : public ::testing::TestWithParam<std::tuple<TransportCase, const char *>> {};

TEST_P(MetricsTruncation, ADatagramLongerThanMaxPacketSizeIsCountedTruncatedOnce) {
    const auto &[transport, mode] = GetParam();
    HostUnderTest host(admin_config({{"listen", transport.listen},
                                     {"plugin", "probe"},
                                     {"mode", mode},
                                     {"max_packet_size", 10}}),
                       {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    DatagramClient client(host.listening()[0]);
    // 22 bytes, cut to "echo 01234": the probe answers the part it got.
    client.send("echo 0123456789abcdef\n");
    EXPECT_EQ(client.receive(), "01234\n") << host.log();
    ASSERT_TRUE(host.wait_for_log("truncated from 22 to max_packet_size 10 bytes")) << host.log();
    const std::string address = host.listening()[0];
    const std::string label = std::string(transport.listen).starts_with("unix") ? address : transport.listen;
    auto series = [&](const std::string &name, const std::string &extra = {}) {
        return listener_series(name, label, "probe", mode, extra);
    };
    const std::string truncated = series("sockhost_datagrams_truncated_total");
    const std::string ok = series("sockhost_requests_total", "outcome=\"ok\"");
    const std::string exposition = scrape_until(admin_of(host), {{truncated, "1"}, {ok, "1"}});
    EXPECT_EQ(metric_value(exposition, truncated), "1") << exposition;
    EXPECT_EQ(metric_value(exposition, ok), "1");
    // The payload as delivered, not as sent.
    EXPECT_EQ(metric_value(exposition, series("sockhost_received_bytes_total")), "10");
    EXPECT_EQ(metric_value(exposition, series("sockhost_sent_bytes_total")), "6");
    // A datagram within the limit is not counted.
    EXPECT_EQ(client.exchange("echo ok\n"), "ok\n");
    const std::string after = scrape_until(admin_of(host), {{ok, "2"}});
    EXPECT_EQ(metric_value(after, ok), "2") << after;
    EXPECT_EQ(metric_value(after, truncated), "1");
}

INSTANTIATE_TEST_SUITE_P(DatagramCells, MetricsTruncation,
                         ::testing::Combine(::testing::Values(kUdp, kUnixDgram), ::testing::ValuesIn(kModes)),
                         [](const auto &cell) {
                             return std::string(std::get<0>(cell.param).name) + "_" + std::get<1>(cell.param);
                         });

}  // namespace
}  // namespace sockhost::test
