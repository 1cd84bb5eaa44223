// The supervisor's control socket and admin endpoint in-process, over real sockets, served
// by a poll loop like the supervisor's: an answer many times a socket buffer reaches a
// client that reads it slowly, whole.
#include "clients.hpp"
#include "temp_dir.hpp"

#include <sockhost/host/supervisor/admin_server.hpp>
#include <sockhost/host/supervisor/control_socket.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sockhost::test {
namespace {

// Far more than a socket's send buffer (about 200 KiB by default), so that no single
// write can hold it.
const std::string kLargeText(4 * 1024 * 1024, 'x');

// Serves `server` as the supervisor's loop does until `finished` (or 20 s pass).
template <typename Server, typename Serve>
void serve_until(Server &server, const Serve &serve, const std::atomic<bool> &finished) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
        std::vector<pollfd> watched;
        server.watch(watched);
        ::poll(watched.data(), watched.size(), 20);
        serve();
    }
}

// Reads to EOF in small pieces, pausing between them: a client slower than the server.
std::string read_slowly(int fd) {
    std::string text;
    char buffer[16 * 1024];
    while (wait_readable(fd, std::chrono::steady_clock::now() + 10s)) {
        const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
        if (count <= 0) break;
        text.append(buffer, static_cast<std::size_t>(count));
        if (text.size() % (256 * 1024) < sizeof buffer) std::this_thread::sleep_for(5ms);
    }
    return text;
}

TEST(ControlSocket, StatusLargerThanTheSocketBufferArrivesWhole) {
    TempDir dir;
    auto server = ControlServer::open(dir / "control.sock");
    ASSERT_TRUE(server) << server.error().message;
    std::atomic<bool> finished{false};
    std::string answer;
    std::thread client([&] {
        UniqueFd connection = connect_stream("unix:" + (dir / "control.sock").string());
        send_all(connection.get(), "status\n");
        answer = read_slowly(connection.get());
        finished = true;
    });
    int status_requests = 0;
    serve_until(*server, [&] {
        const auto reloads = server->take_reload_requests([&] { ++status_requests; return kLargeText; });
        EXPECT_TRUE(reloads.empty());
    }, finished);
    client.join();
    EXPECT_EQ(status_requests, 1);
    EXPECT_EQ(answer.size(), kLargeText.size() + 4);
    EXPECT_TRUE(answer == "ok " + kLargeText + "\n") << "the answer was cut";
}

TEST(ControlSocket, ReloadAnswerWaitsForTheOutcomeAndASilentClientIsAnswered) {
    TempDir dir;
    auto server = ControlServer::open(dir / "control.sock");
    ASSERT_TRUE(server) << server.error().message;
    const std::string path = "unix:" + (dir / "control.sock").string();
    UniqueFd asking = connect_stream(path);
    send_all(asking.get(), "reload\n");
    std::vector<ControlClient> reloads;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (reloads.empty() && std::chrono::steady_clock::now() < deadline) {
        std::vector<pollfd> watched;
        server->watch(watched);
        ::poll(watched.data(), watched.size(), 20);
        reloads = server->take_reload_requests([] { return std::string(); });
    }
    ASSERT_EQ(reloads.size(), 1u);
    server->answer(reloads[0], "ok generation 2 is serving");
    EXPECT_EQ(read_until_eof(asking.get()), "ok generation 2 is serving\n");
    // Answered once: a second answer for the same client is nothing.
    server->answer(reloads[0], "failed again");
}

TEST(AdminServer, LargeAnswerReachesAClientWithASmallReceiveBufferWhole) {
    ListenAddress address;
    address.transport = Transport::tcp;
    address.host = "127.0.0.1";
    auto server = AdminServer::open(address);
    ASSERT_TRUE(server) << server.error().message;
    const SocketAddress target = parse_target(server->bound_text());
    std::atomic<bool> finished{false};
    std::string answer;
    std::thread client([&] {
        UniqueFd connection(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int small = 4096;  // set before connect, so that the window is small from the start
        ::setsockopt(connection.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        if (::connect(connection.get(), target.get(), target.length) != 0) return void(finished = true);
        send_all(connection.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        answer = read_slowly(connection.get());
        finished = true;
    });
    const AdminPages pages{[] { return true; }, [] { return kLargeText; }};
    serve_until(*server, [&] { server->serve(pages); }, finished);
    client.join();
    ASSERT_TRUE(answer.starts_with("HTTP/1.1 200 ")) << answer.substr(0, 200);
    const auto end_of_head = answer.find("\r\n\r\n");
    ASSERT_NE(end_of_head, std::string::npos);
    EXPECT_EQ(answer.size() - end_of_head - 4, kLargeText.size());
    EXPECT_NE(answer.find("Content-Length: " + std::to_string(kLargeText.size())), std::string::npos);
}

}  // namespace
}  // namespace sockhost::test
