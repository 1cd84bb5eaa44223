// The worker side of host metrics and the access log: requests served in-process count
// themselves in an installed metrics table, in every mode, and write access log lines.
#include "clients.hpp"
#include "temp_dir.hpp"

#include <sockhost/host/shared/access_list.hpp>
#include <sockhost/host/worker/request_metrics.hpp>
#include <sockhost/host/worker/server.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

namespace sockhost::test {
namespace {

class EchoHandler final : public Handler {
public:
    explicit EchoHandler(bool verifies = true) : verifies_(verifies) { set_listener_index(0); }
    std::string_view name() const override { return "echo"; }
    bool verify(Request &) override { return verifies_; }
    sockhost_status handle(Request &request) override {
        char buffer[256];
        for (std::int64_t count; (count = request.read(buffer, sizeof buffer)) > 0;)
            if (!request.write(buffer, static_cast<std::size_t>(count))) return SOCKHOST_ERROR;
        return SOCKHOST_OK;
    }

private:
    bool verifies_;
};

// A metrics table installed for the test's servers (a shared mapping: forked children count too).
class InstalledTable {
public:
    InstalledTable() : mapping_(*MetricsMapping::create()) { install_metrics_table(&mapping_.table()); }
    ~InstalledTable() { install_metrics_table(nullptr); }
    ListenerCounters &counters() { return mapping_.table().listeners[0]; }

private:
    MetricsMapping mapping_;
};

std::uint64_t requests(ListenerCounters &counters, RequestOutcome outcome) {
    return counters.requests[static_cast<std::size_t>(outcome)].load();
}

// Requests count at their end, just after the client has its answer: poll for it.
bool eventually(const std::function<bool()> &condition) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!condition()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

std::unique_ptr<Server> serve(const std::string &listen, ServerOptions options, std::shared_ptr<Handler> handler,
                              std::unique_ptr<AccessLog> access_log = nullptr) {
    auto socket = ListenerSocket::bind(*parse_listen_address(listen), BindOptions{});
    EXPECT_TRUE(socket);
    auto server = Server::create(std::move(*socket), options, std::move(handler), nullptr, std::move(access_log));
    EXPECT_TRUE(server) << server.error().message;
    return std::move(*server);
}

struct Running {
    explicit Running(std::unique_ptr<Server> created) : server(std::move(created)) {
        loop = std::thread([this] { EXPECT_TRUE(server->serve_forever()); });
    }
    ~Running() {
        server->shutdown();
        loop.join();
        server->close(Clock::now() + std::chrono::seconds(10));
    }
    std::unique_ptr<Server> server;
    std::thread loop;
};

// The lines of the access log at `path` once there are `count` of them (or what is there
// after the deadline).
std::vector<std::string> access_log_lines(const std::filesystem::path &path, std::size_t count) {
    std::vector<std::string> lines;
    eventually([&] {
        std::ifstream file(path);
        lines.clear();
        for (std::string line; std::getline(file, line);) lines.push_back(line);
        return lines.size() >= count;
    });
    return lines;
}

TEST(RequestCounting, StreamRequestsCountOutcomeBytesAndConnectionsInEveryMode) {
    for (const Mode mode : {Mode::sync, Mode::threading, Mode::forking, Mode::event}) {
        SCOPED_TRACE(mode_name(mode));
        InstalledTable table;
        ServerOptions options;
        options.mode = mode;
        TempDir dir;
        auto log = AccessLog::open((dir.path() / "access.log").string(), "tcp://127.0.0.1:0");
        ASSERT_TRUE(log) << log.error().message;
        Running running(serve("tcp://127.0.0.1:0", options, std::make_shared<EchoHandler>(), std::move(*log)));
        const std::string message = "hello, counters\n";
        for (int round = 0; round < 3; ++round)
            EXPECT_EQ(stream_exchange(running.server->listener().bound_text(), message), message);
        auto &counters = table.counters();
        EXPECT_TRUE(eventually([&] { return requests(counters, RequestOutcome::ok) == 3; }));
        EXPECT_TRUE(eventually([&] { return counters.connections_open.load() == 0; }));
        EXPECT_EQ(counters.connections_accepted.load(), 3u);
        EXPECT_EQ(counters.received_bytes.load(), 3 * message.size());
        EXPECT_EQ(counters.sent_bytes.load(), 3 * message.size());
        std::uint64_t in_buckets = 0;
        for (const auto &bucket : counters.duration_buckets) in_buckets += bucket.load();
        EXPECT_EQ(in_buckets, 3u);
        EXPECT_EQ(requests(counters, RequestOutcome::error), 0u);
        // One line per request, from the worker's writer or (forking) from each child.
        const auto lines = access_log_lines(dir.path() / "access.log", 3);
        ASSERT_EQ(lines.size(), 3u);
        for (const auto &line : lines) {
            EXPECT_NE(line.find("\"outcome\":\"ok\""), std::string::npos) << line;
            EXPECT_NE(line.find("\"received\":" + std::to_string(message.size()) + ","), std::string::npos) << line;
        }
    }
}

TEST(RequestCounting, RefusedByVerifyAndDeniedByTheAccessList) {
    InstalledTable table;
    {
        Running running(serve("tcp://127.0.0.1:0", ServerOptions{}, std::make_shared<EchoHandler>(false)));
        stream_exchange(running.server->listener().bound_text(), "x\n");
        EXPECT_TRUE(eventually([&] { return requests(table.counters(), RequestOutcome::refused) == 1; }));
    }
    ServerOptions denying;
    denying.access.deny.push_back(*parse_cidr("127.0.0.0/8"));
    Running running(serve("tcp://127.0.0.1:0", denying, std::make_shared<EchoHandler>()));
    stream_exchange(running.server->listener().bound_text(), "x\n");
    EXPECT_TRUE(eventually([&] { return requests(table.counters(), RequestOutcome::denied) == 1; }));
    EXPECT_EQ(requests(table.counters(), RequestOutcome::ok), 0u);
    EXPECT_TRUE(eventually([&] { return table.counters().connections_open.load() == 0; }));
}

TEST(RequestCounting, TimeoutWaitingOnThePeer) {
    InstalledTable table;
    ServerOptions options;
    options.timeout = std::chrono::milliseconds(100);
    Running running(serve("tcp://127.0.0.1:0", options, std::make_shared<EchoHandler>()));
    UniqueFd silent = connect_stream(running.server->listener().bound_text());
    EXPECT_TRUE(eventually([&] { return requests(table.counters(), RequestOutcome::timeout) == 1; }));
}

// Reads a byte at a time and echoes each line, saying it is between requests after each;
// a failed read ends it with an error, with the host's message or (`own_reason`) its own.
class LineByteHandler final : public Handler {
public:
    explicit LineByteHandler(std::string own_reason = {}) : own_reason_(std::move(own_reason)) { set_listener_index(0); }
    std::string_view name() const override { return "lines"; }
    sockhost_status handle(Request &request) override {
        for (char byte = 0;;) {
            const std::int64_t count = request.read(&byte, 1);
            if (count == 0) return SOCKHOST_OK;
            if (count < 0) {
                if (!own_reason_.empty()) request.set_handler_error(own_reason_);
                return SOCKHOST_ERROR;
            }
            if (!request.write(&byte, 1)) return SOCKHOST_ERROR;
            if (byte == '\n') request.mark_between_requests();
        }
    }

private:
    std::string own_reason_;
};

// Idle between two requests until the timeout: how a keep-alive connection ends (ok).
// The same timeout once the next request has begun, even with its first bytes read from
// what came with the last one, is a timeout; and a plugin that gives its own reason
// for failing is an error, whatever host call failed before.
TEST(RequestCounting, AnIdleEndIsOkButNotOnceTheNextRequestBeganNorForThePluginsOwnReason) {
    ServerOptions options;
    options.timeout = std::chrono::milliseconds(100);
    const auto served = [&](std::shared_ptr<Handler> handler, const std::string &sent, RequestOutcome expected) {
        InstalledTable table;
        Running running(serve("tcp://127.0.0.1:0", options, std::move(handler)));
        UniqueFd client = connect_stream(running.server->listener().bound_text());
        send_all(client.get(), sent);  // one segment
        EXPECT_TRUE(eventually([&] { return requests(table.counters(), expected) == 1; }))
            << "ok " << requests(table.counters(), RequestOutcome::ok) << ", timeout "
            << requests(table.counters(), RequestOutcome::timeout) << ", error "
            << requests(table.counters(), RequestOutcome::error);
    };
    served(std::make_shared<LineByteHandler>(), "a\n", RequestOutcome::ok);
    served(std::make_shared<LineByteHandler>(), "a\nb", RequestOutcome::timeout);
    served(std::make_shared<LineByteHandler>("the plugin's own reason"), "a\n", RequestOutcome::error);
}

TEST(RequestCounting, DatagramsCountAndWriteAccessLogLines) {
    InstalledTable table;
    TempDir dir;
    const std::string log_path = (dir.path() / "access.log").string();
    auto log = AccessLog::open(log_path, "udp://127.0.0.1:0");
    ASSERT_TRUE(log) << log.error().message;
    Running running(serve("udp://127.0.0.1:0", ServerOptions{}, std::make_shared<EchoHandler>(), std::move(*log)));
    DatagramClient client(running.server->listener().bound_text());
    EXPECT_EQ(client.exchange("ping"), "ping");
    EXPECT_EQ(client.exchange("pong!"), "pong!");
    EXPECT_TRUE(eventually([&] { return requests(table.counters(), RequestOutcome::ok) == 2; }));
    EXPECT_EQ(table.counters().received_bytes.load(), 9u);
    EXPECT_EQ(table.counters().sent_bytes.load(), 9u);
    EXPECT_EQ(table.counters().connections_accepted.load(), 0u);
    const auto lines = access_log_lines(log_path, 2);
    ASSERT_EQ(lines.size(), 2u);
    for (const char *field : {"\"time\":\"", "\"peer\":\"127.0.0.1:", "\"plugin\":\"echo\"",
                              "\"outcome\":\"ok\"", "\"duration\":", "\"received\":4", "\"sent\":4"})
        EXPECT_NE(lines[0].find(field), std::string::npos) << field << " in " << lines[0];
}

}  // namespace
}  // namespace sockhost::test
