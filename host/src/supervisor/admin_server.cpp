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
    for (const auto &client : clients_) watched.push_back(client.watched());
}

std::optional<Clock::time_point> AdminServer::next_deadline() const {
    std::optional<Clock::time_point> next;
    if (paused_until_ > Clock::now()) next = paused_until_;
    for (const auto &client : clients_)
        if (!next || client.deadline() < *next) next = client.deadline();
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
        clients_.emplace_back(std::move(client), Clock::now() + kClientTimeout);
    }
}

void AdminServer::read_request(BoundedClient &client, const AdminPages &pages) {
    if (!client.read_request(kMaxAdminRequest)) return;
    auto answer = answer_admin_request(client.received(), pages);
    // Half-closed before its head was complete: the head is all there will be.
    if (!answer && client.request_ended()) answer = admin_response(400, "text/plain; charset=utf-8", "malformed request\n");
    if (!answer) return;
    if (answer->size() > kMaxAnswer)
        answer = admin_response(500, "text/plain; charset=utf-8", "answer too large\n");
    // An error may leave the client's bytes unread (a head over the limit): those are read
    // and dropped before the close, so that it does not reset the answer away.
    const bool error = !answer->starts_with("HTTP/1.1 2");
    // The deadline stays the client's: it has kClientTimeout for its whole exchange.
    client.answer(std::move(*answer), client.deadline(), error);
}

void AdminServer::serve(const AdminPages &pages) {
    accept_clients();
    const auto now = Clock::now();
    for (auto client = clients_.begin(); client != clients_.end();) {
        if (client->phase() == BoundedClient::Phase::reading) read_request(*client, pages);
        else if (!client->proceed(now))
            log_debug("admin " + address_.text() + ": a client did not take its whole answer within " +
                      duration_text(kClientTimeout) + "; closed");
        if (client->phase() == BoundedClient::Phase::reading && now >= client->deadline()) {
            log_debug("admin " + address_.text() + ": a client sent no complete request within " +
                      duration_text(kClientTimeout) + "; closed");
            client = clients_.erase(client);
        } else if (client->done()) {
            client = clients_.erase(client);
        } else {
            ++client;
        }
    }
}

}  // namespace sockhost
