// The reference servers' loop: one thread, level-triggered epoll, no per-request
// allocation. A Protocol turns the bytes read from a connection into the bytes to send
// back; the loop does everything else (accept, partial writes, closing).
//
//   struct Protocol {
//       struct State {};                                     // per connection
//       std::string_view answer(State &, const char *data, std::size_t size);
//   };
#pragma once

#include "bench_net.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <csignal>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bench {

template <typename Protocol>
class EpollStreamServer {
public:
    EpollStreamServer(const Endpoint &endpoint, Protocol protocol)
        : endpoint_(endpoint), protocol_(std::move(protocol)), listener_(listen_on(endpoint)),
          epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
        ::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-answer is an EPIPE, not the end of the server
        set_nonblocking(listener_.get());
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
                    serve(fd);
                }
            }
        }
    }

private:
    struct Connection {
        UniqueFd fd;
        typename Protocol::State state;
        std::vector<char> pending;  // answer bytes the peer's receive buffer had no room for
    };

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
            if (endpoint_.inet()) set_nodelay(fd);
            connections_[fd].fd.reset(fd);
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    void close_connection(int fd) { connections_.erase(fd); }  // closing removes it from epoll

    void serve(int fd) {
        const ssize_t received = ::read(fd, buffer_, sizeof buffer_);
        if (received == 0 || (received < 0 && errno != EAGAIN && errno != EINTR)) return close_connection(fd);
        if (received < 0) return;
        auto &connection = connections_[fd];
        const std::string_view answer = protocol_.answer(connection.state, buffer_, static_cast<std::size_t>(received));
        if (answer.empty()) return;
        const ssize_t sent = ::write(fd, answer.data(), answer.size());
        if (sent == static_cast<ssize_t>(answer.size())) return;
        if (sent < 0 && errno != EAGAIN) return close_connection(fd);
        // The peer is not reading: keep the rest and stop reading until it drains.
        const std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
        connection.pending.assign(answer.begin() + static_cast<std::ptrdiff_t>(done), answer.end());
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
    }

    void write_pending(int fd) {
        auto &pending = connections_[fd].pending;
        const ssize_t sent = ::write(fd, pending.data(), pending.size());
        if (sent < 0 && errno != EAGAIN) return close_connection(fd);
        if (sent > 0) pending.erase(pending.begin(), pending.begin() + sent);
        if (pending.empty()) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    }

    Endpoint endpoint_;
    Protocol protocol_;
    UniqueFd listener_;
    UniqueFd epoll_;
    std::unordered_map<int, Connection> connections_;
    char buffer_[64 * 1024];
};

}  // namespace bench
