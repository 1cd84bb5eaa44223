// The core used as a library, as socketserver users compose classes: a listener, a mode
// and a C++ handler, served in-process. Also where signals are aimed at exact threads.
#include "clients.hpp"
#include "temp_dir.hpp"

#include <sockhost/host/worker/server.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <stdexcept>
#include <thread>

namespace sockhost::test {
namespace {

// Runs serve_forever on a thread; stops and closes the server when it goes out of scope.
class RunningServer {
public:
    RunningServer(const std::string &listen, ServerOptions options, std::shared_ptr<Handler> handler) {
        auto address = parse_listen_address(listen);
        EXPECT_TRUE(address);
        auto socket = ListenerSocket::bind(*address, BindOptions{});
        EXPECT_TRUE(socket) << socket.error().message;
        auto server = Server::create(std::move(*socket), options, std::move(handler));
        server_ = std::move(*server);
        loop_ = std::thread([this] { EXPECT_TRUE(server_->serve_forever()); });
    }
    ~RunningServer() {
        server_->shutdown();
        loop_.join();
        server_->close(Clock::now() + std::chrono::seconds(10));
    }
    std::string address() const { return server_->listener().bound_text(); }
    void shutdown() { server_->shutdown(); }

private:
    std::unique_ptr<Server> server_;
    std::thread loop_;
};

class UppercaseHandler final : public Handler {
public:
    std::string_view name() const override { return "uppercase"; }
    sockhost_status handle(Request &request) override {
        char line[256];
        while (request.read_line(line, sizeof line) > 0) {
            std::string text(line);
            for (char &letter : text) letter = static_cast<char>(std::toupper(static_cast<unsigned char>(letter)));
            if (!request.write(text.data(), text.size())) return SOCKHOST_ERROR;
        }
        return SOCKHOST_OK;
    }
};

TEST(InProcessServer, ComposesListenerModeAndHandler) {
    for (const Mode mode : {Mode::sync, Mode::threading, Mode::forking, Mode::event}) {
        ServerOptions options;
        options.mode = mode;
        RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<UppercaseHandler>());
        EXPECT_EQ(stream_exchange(server.address(), "hello\nworld\n"), "HELLO\nWORLD\n");
    }
}

// Writes 16 MiB in one call, from a thread the test aims signals at.
class BigWriteHandler final : public Handler {
public:
    static constexpr std::size_t kSize = 16 * 1024 * 1024;

    std::string_view name() const override { return "big-write"; }
    sockhost_status handle(Request &request) override {
        std::string payload(kSize, '\0');
        for (std::size_t index = 0; index < kSize; ++index) payload[index] = static_cast<char>(index * 7 % 251);
        handler_thread.store(pthread_self());
        started.store(true);
        const bool written = request.write(payload.data(), payload.size()) && request.flush();
        finished.store(true);
        succeeded.store(written);
        return written ? SOCKHOST_OK : SOCKHOST_ERROR;
    }

    std::atomic<pthread_t> handler_thread{};
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
    std::atomic<bool> succeeded{false};
};

std::atomic<int> signals_received{0};
void count_signal(int) { signals_received.fetch_add(1); }

TEST(InProcessServer, SixteenMiBWriteCompletesWhileSignalsInterruptIt) {
    // No SA_RESTART: every signal makes the blocked poll/send fail with EINTR.
    struct sigaction action {};
    action.sa_handler = count_signal;
    sigemptyset(&action.sa_mask);
    struct sigaction previous {};
    ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);

    for (const Mode mode : {Mode::threading, Mode::event}) {
        auto handler = std::make_shared<BigWriteHandler>();
        ServerOptions options;
        options.mode = mode;
        RunningServer server("unix:" + (TempDir().path().string() + ".sock"), options, handler);
        UniqueFd client = connect_stream(server.address());
        send_all(client.get(), "go\n");
        while (!handler->started.load()) std::this_thread::yield();

        // Read slowly so the host's send keeps blocking, and interrupt it all along.
        std::string received;
        char buffer[64 * 1024];
        signals_received.store(0);
        while (received.size() < BigWriteHandler::kSize) {
            if (!handler->finished.load()) ::pthread_kill(handler->handler_thread.load(), SIGUSR1);
            const ssize_t count = ::recv(client.get(), buffer, sizeof buffer, 0);
            if (count <= 0) break;
            received.append(buffer, static_cast<std::size_t>(count));
        }
        ASSERT_EQ(received.size(), BigWriteHandler::kSize) << mode_name(mode);
        for (std::size_t index = 0; index < received.size(); index += 4093)
            ASSERT_EQ(received[index], static_cast<char>(index * 7 % 251)) << "at byte " << index;
        EXPECT_GT(signals_received.load(), 10) << "signals did arrive during the write";
        while (!handler->finished.load()) std::this_thread::yield();
        EXPECT_TRUE(handler->succeeded.load()) << mode_name(mode);
    }
    ::sigaction(SIGUSR1, &previous, nullptr);
}

// Reads a line, then sleeps for ten minutes unless cancelled.
class SleepingHandler final : public Handler {
public:
    std::string_view name() const override { return "sleeper"; }
    sockhost_status handle(Request &request) override {
        char line[64];
        if (request.read_line(line, sizeof line) <= 0) return SOCKHOST_ERROR;
        started.store(true);
        const bool slept = request.sleep_ms(600000);
        cancelled.store(!slept);
        return slept ? SOCKHOST_OK : SOCKHOST_ERROR;
    }
    std::atomic<bool> started{false};
    std::atomic<bool> cancelled{false};
};

TEST(InProcessServer, EventModeCloseFromAnotherThreadCancelsItsRunningLoopsRequests) {
    ServerOptions options;
    options.mode = Mode::event;
    auto address = parse_listen_address("tcp://127.0.0.1:0");
    ASSERT_TRUE(address);
    auto socket = ListenerSocket::bind(*address, BindOptions{});
    ASSERT_TRUE(socket) << socket.error().message;
    auto handler = std::make_shared<SleepingHandler>();
    auto server = Server::create(std::move(*socket), options, handler);
    ASSERT_TRUE(server) << server.error().message;
    std::thread loop([&] { EXPECT_TRUE((*server)->serve_forever()); });
    UniqueFd client = connect_stream((*server)->listener().bound_text());
    send_all(client.get(), "sleep\n");
    while (!handler->started.load()) std::this_thread::yield();

    (*server)->shutdown();
    EXPECT_FALSE((*server)->wait_idle(Clock::now() + std::chrono::milliseconds(50))) << "the request still sleeps";
    // The loop still runs its request: close() waits for it until the deadline, cancels
    // it, and returns once it has ended.
    (*server)->close(Clock::now() + std::chrono::milliseconds(50));
    EXPECT_EQ((*server)->in_flight(), 0u);
    EXPECT_TRUE(handler->cancelled.load());
    loop.join();
    EXPECT_EQ(read_until_eof(client.get()), "");
}

TEST(InProcessServer, ForkingReapsOnlyItsOwnChildren) {
    // A child of the test process that no server started: it must stay ours to reap.
    const pid_t stranger = ::fork();
    if (stranger == 0) ::_exit(7);
    {
        ServerOptions options;
        options.mode = Mode::forking;
        RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<UppercaseHandler>());
        for (int request = 0; request < 5; ++request) EXPECT_EQ(stream_exchange(server.address(), "x\n"), "X\n");
    }
    int status = 0;
    ASSERT_EQ(::waitpid(stranger, &status, 0), stranger) << "the server reaped a child it did not fork";
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 7);
}

}  // namespace
}  // namespace sockhost::test

namespace sockhost::test {
namespace {

// Replies "1" or "0": whether its accepted connection has TCP_NODELAY set.
class NoDelayReporter final : public Handler {
public:
    std::string_view name() const override { return "nodelay"; }
    sockhost_status handle(Request &request) override {
        int value = -1;
        socklen_t length = sizeof value;
        ::getsockopt(request.connection_fd(), IPPROTO_TCP, TCP_NODELAY, &value, &length);
        const char answer = value != 0 ? '1' : '0';
        return request.write(&answer, 1) ? SOCKHOST_OK : SOCKHOST_ERROR;
    }
};

TEST(InProcessServer, TcpNoDelayFollowsTheOption) {
    for (const Mode mode : {Mode::sync, Mode::threading, Mode::forking, Mode::event})
        for (const bool enabled : {true, false}) {
            ServerOptions options;
            options.mode = mode;
            options.tcp_nodelay = enabled;
            RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<NoDelayReporter>());
            EXPECT_EQ(stream_exchange(server.address(), ""), enabled ? "1" : "0") << mode_name(mode);
        }
}

// Answers each line with whether the server is stopping (the plugin's stopping()).
class StoppingReporter final : public Handler {
public:
    std::string_view name() const override { return "stopping"; }
    sockhost_status handle(Request &request) override {
        char line[64];
        while (request.read_line(line, sizeof line) > 0) {
            const std::string answer = request.stopping() ? "stopping\n" : "serving\n";
            if (!request.write(answer.data(), answer.size()) || !request.flush()) return SOCKHOST_ERROR;
        }
        return SOCKHOST_OK;
    }
};

// A request in flight sees the server's shutdown, in every mode: a forked child too,
// though the shutdown happens in its parent after the fork.
TEST(InProcessServer, ARequestInFlightSeesTheServerStop) {
    for (const Mode mode : {Mode::sync, Mode::threading, Mode::forking}) {
        ServerOptions options;
        options.mode = mode;
        RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<StoppingReporter>());
        UniqueFd client = connect_stream(server.address());
        send_all(client.get(), "first\n");
        EXPECT_EQ(read_line(client.get()), "serving\n") << mode_name(mode);
        server.shutdown();
        send_all(client.get(), "second\n");
        EXPECT_EQ(read_line(client.get()), "stopping\n") << mode_name(mode);
        ::shutdown(client.get(), SHUT_WR);
        EXPECT_EQ(read_until_eof(client.get()), "") << mode_name(mode);
    }
}

}  // namespace
}  // namespace sockhost::test

// User data and error kinds (ABI 1.4) at the Request itself.
namespace sockhost::test {
namespace {

// A failed call, then a read_line that has to wait for input: the earlier failure is
// still what last_error and its kind report.
class EarlierFailureReporter final : public Handler {
public:
    std::string_view name() const override { return "earlier-failure"; }
    sockhost_status handle(Request &request) override {
        char byte = 0;
        if (request.read(&byte, 0) >= 0) return SOCKHOST_ERROR;  // a capacity of 0 is an error
        char line[64];
        if (request.read_line(line, sizeof line) <= 0) return SOCKHOST_ERROR;
        const bool other = request.last_failure() == Request::Failure::other;
        const std::string answer = std::string(other ? "other" : "not other") + ": " + request.last_error() + "\n";
        return request.write(answer.data(), answer.size()) ? SOCKHOST_OK : SOCKHOST_ERROR;
    }
};

TEST(InProcessServer, ReadLineKeepsWhatAnEarlierFailedCallReported) {
    ServerOptions options;
    options.mode = Mode::threading;
    RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<EarlierFailureReporter>());
    UniqueFd client = connect_stream(server.address());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // read_line must wait for the line
    send_all(client.get(), "a line\n");
    const std::string answer = read_line(client.get());
    EXPECT_EQ(answer.rfind("other: read", 0), 0u) << answer;
}

// Attaches user data whose release throws, as a C++ plugin's might: the worker logs it and
// serves on (it runs in ~Request, on a loop thread or in a fiber, where nothing catches).
void release_by_throwing(void *) { throw std::runtime_error("release failed"); }

class ThrowingReleaseHandler final : public Handler {
public:
    std::string_view name() const override { return "throwing-release"; }
    bool verify(Request &request) override {
        request.set_user_data(this, &release_by_throwing);
        return true;
    }
    sockhost_status handle(Request &request) override { return request.write("ok\n", 3) ? SOCKHOST_OK : SOCKHOST_ERROR; }
};

TEST(InProcessServer, AUserDataReleaseThatThrowsHarmsNoRequest) {
    for (const Mode mode : {Mode::sync, Mode::threading, Mode::event}) {
        ServerOptions options;
        options.mode = mode;
        RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<ThrowingReleaseHandler>());
        for (int request = 0; request < 3; ++request) EXPECT_EQ(stream_exchange(server.address(), ""), "ok\n");
    }
}

// Under forking, what verify attached is released by the server and, as its copy, by the
// request's child, even when the child's process_init fails.
int release_pipe = -1;
void release_to_pipe(void *) { [[maybe_unused]] const auto written = ::write(release_pipe, "r", 1); }

class FailingChildInitHandler final : public Handler {
public:
    std::string_view name() const override { return "failing-child-init"; }
    Result<void> process_init() override { return fail("process_init failed on purpose"); }
    bool verify(Request &request) override {
        request.set_user_data(this, &release_to_pipe);
        return true;
    }
    sockhost_status handle(Request &) override { return SOCKHOST_OK; }
};

TEST(InProcessServer, UnderForkingTheChildReleasesItsCopyEvenWhenItsProcessInitFails) {
    int ends[2];
    ASSERT_EQ(::pipe2(ends, O_CLOEXEC | O_NONBLOCK), 0);
    UniqueFd read_end(ends[0]);
    UniqueFd write_end(ends[1]);
    release_pipe = write_end.get();
    {
        ServerOptions options;
        options.mode = Mode::forking;
        RunningServer server("tcp://127.0.0.1:0", options, std::make_shared<FailingChildInitHandler>());
        EXPECT_EQ(stream_exchange(server.address(), "x"), "");
    }
    std::string releases;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (releases.size() < 2 && std::chrono::steady_clock::now() < deadline) {
        char buffer[8];
        const ssize_t count = ::read(read_end.get(), buffer, sizeof buffer);
        if (count > 0) releases.append(buffer, static_cast<std::size_t>(count));
        else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(releases, "rr") << "one release in the server, one in the child";
    release_pipe = -1;
}

}  // namespace
}  // namespace sockhost::test
