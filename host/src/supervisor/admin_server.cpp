#include <sockhost/host/supervisor/admin_server.hpp>

#include <sockhost/host/shared/log.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sockhost {

Result<AdminServer> AdminServer::open(const ListenAddress &address) {
    BindOptions options;
    options.request_queue_size = 64;
    auto socket = ListenerSocket::bind(address, options);
    if (!socket) return fail("admin " + address.text() + ": " + socket.error().message);
    return AdminServer(std::move(*socket), address);
}

bool AdminServer::accepting() const { return clients_.size() < kMaxClients && Clock::now() >= paused_until_; }

void AdminServer::watch(std::vector<pollfd> &watched) const {
    if (accepting()) watched.push_back({socket_.fd(), POLLIN, 0});
    for (const auto &client : clients_)
        watched.push_back({client.fd.get(), static_cast<short>(client.answered ? POLLOUT : POLLIN), 0});
}

std::optional<Clock::time_point> AdminServer::next_deadline() const {
    std::optional<Clock::time_point> next;
    if (paused_until_ > Clock::now()) next = paused_until_;
    for (const auto &client : clients_)
        if (!next || client.deadline < *next) next = client.deadline;
    return next;
}

void AdminServer::accept_clients() {
    while (accepting()) {
        UniqueFd client(::accept4(socket_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!client && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            // The connection stays queued and the socket readable: pause instead of spinning.
            log_warning("admin " + address_.text() + ": cannot accept: " + std::strerror(errno) + "; retrying in 1 s");
            paused_until_ = Clock::now() + std::chrono::seconds(1);
        }
        if (!client) return;
        Client accepted;
        accepted.fd = std::move(client);
        accepted.deadline = Clock::now() + kClientTimeout;
        clients_.push_back(std::move(accepted));
    }
}

bool AdminServer::read_request(Client &client, const AdminPages &pages) {
    char buffer[4096];
    for (;;) {
        const ssize_t count = ::recv(client.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (count <= 0) return false;  // gone (or broken) before its request was complete
        client.received.append(buffer, static_cast<std::size_t>(count));
        if (client.received.size() >= kMaxAdminRequest) break;
    }
    auto answer = answer_admin_request(client.received, pages);
    if (!answer) return true;
    if (answer->size() > kMaxAnswer)
        answer = admin_response(500, "text/plain; charset=utf-8", "answer too large\n");
    client.answer = std::move(*answer);
    client.received.clear();
    client.answered = true;
    return write_answer(client);
}

bool AdminServer::write_answer(Client &client) {
    while (client.written < client.answer.size()) {
        const ssize_t count = ::send(client.fd.get(), client.answer.data() + client.written,
                                     client.answer.size() - client.written, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (count <= 0) return false;
        client.written += static_cast<std::size_t>(count);
    }
    // All written: the answer ends with the connection (Connection: close).
    ::shutdown(client.fd.get(), SHUT_WR);
    return false;
}

void AdminServer::serve(const AdminPages &pages) {
    accept_clients();
    const auto now = Clock::now();
    for (auto client = clients_.begin(); client != clients_.end();) {
        const bool keep = client->answered ? write_answer(*client) : read_request(*client, pages);
        if (keep && now >= client->deadline)
            log_debug("admin " + address_.text() + ": a client took longer than " + duration_text(kClientTimeout) +
                      "; closed");
        if (keep && now < client->deadline) {
            ++client;
            continue;
        }
        client = clients_.erase(client);
    }
}

}  // namespace sockhost
