// The bundled plugins served by the real host over real sockets, as the README's tour
// uses them.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <regex>
#include <vector>

namespace sockhost::test {
namespace {

nlohmann::json one_listener(const char *listen, const char *plugin, const char *mode,
                            const nlohmann::json &plugin_config = nlohmann::json::object()) {
    return {{"listeners", {{{"listen", listen}, {"plugin", plugin}, {"mode", mode}, {"config", plugin_config}}}}};
}

CommandOutcome reload(const HostUnderTest &host) { return run_sockhost_command("reload -c " + host.config_path().string()); }

nlohmann::json with_control(nlohmann::json config) {
    config["control_socket"] = "control.sock";
    return config;
}

std::string exchange_on(int fd, const std::string &line) {
    send_all(fd, line);
    return read_line(fd);
}

TEST(HttpPlugin, KeepAliveServesSeveralRequestsOnOneConnection) {
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(one_listener("tcp://127.0.0.1:0", "http", mode, {{"body", "hi there\n"}}),
                           {bundled_plugin("http")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for (int round = 0; round < 3; ++round) {
            send_all(client.get(), request);
            const std::string head = read_exactly(client.get(), std::string("HTTP/1.1 200 OK\r\n").size());
            EXPECT_EQ(head, "HTTP/1.1 200 OK\r\n") << "round " << round;
            std::string rest;
            while (rest.find("\r\n\r\n") == std::string::npos) {
                const std::string more = read_exactly(client.get(), 1);
                if (more.empty()) break;
                rest += more;
            }
            EXPECT_NE(rest.find("Content-Length: 9\r\n"), std::string::npos) << rest;
            EXPECT_EQ(read_exactly(client.get(), 9), "hi there\n");
        }
        send_all(client.get(), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        const std::string last = read_until_eof(client.get());
        EXPECT_TRUE(last.starts_with("HTTP/1.1 200 OK\r\n")) << last;
        EXPECT_TRUE(last.ends_with("hi there\n")) << "then the host closed the connection: " << last;
    }
}

// A keep-alive connection lives through a reload: the response before it and the one after
// it keep the connection alive (no "Connection: close"), the second from the new code.
TEST(HttpPlugin, AKeepAliveConnectionLivesThroughAReloadWithoutConnectionClose) {
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(with_control(one_listener("tcp://127.0.0.1:0", "http", mode, {{"body", "hi\n"}})),
                           {bundled_plugin("http")});
        ASSERT_TRUE(host.ready()) << host.log();
        UniqueFd client = connect_stream(host.listening()[0]);
        const auto get = [&] {
            send_all(client.get(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            std::string head;
            while (head.find("\r\n\r\n") == std::string::npos) {
                const std::string more = read_exactly(client.get(), 1);
                if (more.empty()) break;
                head += more;
            }
            if (!head.empty()) read_exactly(client.get(), 3);  // the body
            return head;
        };
        EXPECT_EQ(get().find("Connection: close"), std::string::npos);
        ASSERT_EQ(reload(host).exit_code, 0) << host.log();
        ASSERT_TRUE(host.wait_for_log("generation 1 has exited", std::chrono::seconds(20))) << host.log();
        const std::string after = get();
        EXPECT_TRUE(after.starts_with("HTTP/1.1 200 OK\r\n")) << after << host.log();
        EXPECT_EQ(after.find("Connection: close"), std::string::npos) << after;
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

TEST(HttpPlugin, EventModeAnswersPipelinedRequestsInOrder) {
    HostUnderTest host(one_listener("tcp://127.0.0.1:0", "http", "event", {{"body", "x\n"}}),
                       {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::string requests;
    for (int index = 0; index < 50; ++index) requests += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    requests += "HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n";
    const std::string replies = stream_exchange(host.listening()[0], requests);
    EXPECT_EQ(count_of(replies, "HTTP/1.1 200 OK"), 51) << replies.substr(0, 300);
    EXPECT_NE(replies.rfind("Connection: close"), std::string::npos);
}

TEST(HttpPlugin, MalformedRequestGets400) {
    HostUnderTest host(one_listener("unix:http.sock", "http", "sync"), {bundled_plugin("http")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string reply = stream_exchange(host.listening()[0], "BLAH\r\n\r\n");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 ")) << reply;
}

TEST(DaytimePlugin, AnswersOverTcpAndUdp) {
    nlohmann::json config = {{"listeners",
                              {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "daytime"}},
                               {{"listen", "udp://127.0.0.1:0"}, {"plugin", "daytime"}}}}};
    HostUnderTest host(config, {bundled_plugin("daytime")});
    ASSERT_TRUE(host.ready()) << host.log();
    // RFC 867 suggests "Weekday, Month Day, Year HH:MM:SS-Zone".
    const std::regex daytime("[A-Z][a-z]+day, [A-Z][a-z]+ \\d{2}, \\d{4} \\d{2}:\\d{2}:\\d{2}-\\w+\r\n");
    UniqueFd stream = connect_stream(host.listening()[0]);
    const std::string over_tcp = read_until_eof(stream.get());
    EXPECT_TRUE(std::regex_match(over_tcp, daytime)) << over_tcp;
    DatagramClient datagram(host.listening()[1]);
    const std::string over_udp = datagram.exchange("");
    EXPECT_TRUE(std::regex_match(over_udp, daytime)) << over_udp;
}

TEST(KvPlugin, ThreadingAndEventKeepStateAcrossConnections) {
    for (const char *mode : {"threading", "event"}) {
        HostUnderTest host(one_listener("tcp://127.0.0.1:0", "kv", mode), {bundled_plugin("kv")});
        ASSERT_TRUE(host.ready()) << host.log();
        EXPECT_EQ(stream_exchange(host.listening()[0], "SET colour blue\n"), "OK\n") << mode;
        EXPECT_EQ(stream_exchange(host.listening()[0], "GET colour\n"), "VALUE blue\n") << mode;
    }
}

// The case: twenty clients SET a key each and sit idle; reloads come; each
// connection lives on (answered by the new generation: the old has exited) and every key
// is still there, for them and for new connections.
TEST(KvPlugin, IdleConnectionsAndEveryKeySurviveReloads) {
    for (const char *mode : {"threading", "event"}) {
        SCOPED_TRACE(mode);
        HostUnderTest host(with_control(one_listener("tcp://127.0.0.1:0", "kv", mode)), {bundled_plugin("kv")});
        ASSERT_TRUE(host.ready()) << host.log();
        std::vector<UniqueFd> clients;
        for (int index = 0; index < 20; ++index) {
            clients.push_back(connect_stream(host.listening()[0]));
            ASSERT_EQ(exchange_on(clients.back().get(), "SET key" + std::to_string(index) + " value " +
                                                            std::to_string(index) + "\n"),
                      "OK\n");
        }
        for (int reloads = 1; reloads <= 3; ++reloads) {
            ASSERT_EQ(reload(host).exit_code, 0) << host.log();
            ASSERT_TRUE(host.wait_for_log("generation " + std::to_string(reloads) + " has exited", std::chrono::seconds(20)))
                << host.log();
            for (int index = 0; index < 20; ++index)
                EXPECT_EQ(exchange_on(clients[static_cast<std::size_t>(index)].get(), "GET key" + std::to_string(index) + "\n"),
                          "VALUE value " + std::to_string(index) + "\n")
                    << "client " << index << ", reload " << reloads;
        }
        EXPECT_EQ(stream_exchange(host.listening()[0], "COUNT\n"), "COUNT 20\n");
        EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    }
}

TEST(KvPlugin, ForkingLosesStateWithEachChildAsSocketserverWarns) {
    HostUnderTest host(one_listener("tcp://127.0.0.1:0", "kv", "forking"), {bundled_plugin("kv")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "SET colour blue\nGET colour\n"), "OK\nVALUE blue\n")
        << "within one request the child has the value";
    EXPECT_EQ(stream_exchange(host.listening()[0], "GET colour\n"), "NOT_FOUND\n")
        << "the next request's child never saw it";
}

}  // namespace
}  // namespace sockhost::test
