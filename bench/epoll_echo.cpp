// The reference for the stream echo rows: the smallest useful epoll echo server, one
// thread, level-triggered, no per-request allocation. What a stream echo can do on this
// machine with one core; sockhost's event mode is measured against it.
//
//   epoll_echo tcp://127.0.0.1:9000      (or unix:/tmp/echo.sock)
#include "bench_net.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <unordered_map>
#include <vector>

namespace {

// Bytes read but not yet written back (only when the peer's receive buffer is full).
struct Connection {
    bench::UniqueFd fd;
    std::vector<char> pending;
};

class EchoServer {
public:
    explicit EchoServer(const bench::Endpoint &endpoint)
        : endpoint_(endpoint), listener_(bench::listen_on(endpoint)), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
        bench::set_nonblocking(listener_.get());
        watch(listener_.get(), EPOLLIN, EPOLL_CTL_ADD);
    }

    [[noreturn]] void run() {
        std::vector<epoll_event> events(512);
        for (;;) {
            const int count = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
            for (int i = 0; i < count; ++i) {
                const int fd = events[i].data.fd;
                if (fd == listener_.get()) {
                    accept_all();
                } else if (events[i].events & EPOLLOUT) {
                    write_pending(fd);
                } else {
                    echo(fd);
                }
            }
        }
    }

private:
    void watch(int fd, std::uint32_t events, int operation) {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        ::epoll_ctl(epoll_.get(), operation, fd, &event);
    }

    void accept_all() {
        for (;;) {
            const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;  // EAGAIN, or a transient error: epoll reports the next one
            if (endpoint_.inet()) bench::set_nodelay(fd);
            connections_[fd].fd.reset(fd);
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    void close_connection(int fd) { connections_.erase(fd); }  // closing removes it from epoll

    void echo(int fd) {
        const ssize_t received = ::read(fd, buffer_, sizeof buffer_);
        if (received == 0 || (received < 0 && errno != EAGAIN && errno != EINTR)) return close_connection(fd);
        if (received < 0) return;
        const ssize_t sent = ::write(fd, buffer_, static_cast<std::size_t>(received));
        if (sent == received) return;
        if (sent < 0 && errno != EAGAIN) return close_connection(fd);
        // The peer is not reading: keep the rest and stop reading until it drains.
        auto &connection = connections_[fd];
        const std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
        connection.pending.assign(buffer_ + done, buffer_ + received);
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
    }

    void write_pending(int fd) {
        auto &pending = connections_[fd].pending;
        const ssize_t sent = ::write(fd, pending.data(), pending.size());
        if (sent < 0 && errno != EAGAIN) return close_connection(fd);
        if (sent > 0) pending.erase(pending.begin(), pending.begin() + sent);
        if (pending.empty()) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    }

    bench::Endpoint endpoint_;
    bench::UniqueFd listener_;
    bench::UniqueFd epoll_;
    std::unordered_map<int, Connection> connections_;
    char buffer_[64 * 1024];
};

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) bench::die("usage: epoll_echo tcp://HOST:PORT | unix:PATH");
    const auto endpoint = bench::parse_endpoint(argv[1]);
    if (endpoint.datagram()) bench::die("epoll_echo serves streams; use dgram_echo for " + endpoint.text);
    bench::raise_descriptor_limit();
    static EchoServer server(endpoint);  // static: the 64 KiB buffer stays off the stack
    server.run();
}
