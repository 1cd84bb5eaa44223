#include "trickling_clients.hpp"

#include "clients.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sockhost::test {

TricklingClients::TricklingClients(const std::string &bound_address, int count, std::string prefix,
                                   std::chrono::milliseconds interval)
    : prefix_(std::move(prefix)), interval_(interval) {
    clients_.reserve(static_cast<std::size_t>(count));
    for (int index = 0; index < count; ++index) {
        Client client;
        client.fd = connect_stream(bound_address);
        clients_.push_back(std::move(client));
    }
    thread_ = std::thread([this] { run(); });
}

TricklingClients::~TricklingClients() {
    stopping_ = true;
    thread_.join();
}

std::vector<std::string> TricklingClients::replies_of_closed() const {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> replies;
    for (const Client &client : clients_)
        if (!client.open) replies.push_back(client.received);
    return replies;
}

void TricklingClients::run() {
    auto next = std::chrono::steady_clock::now();
    while (!stopping_) {
        for (Client &client : clients_)
            if (client.open) step(client);
        next += interval_;
        while (!stopping_ && std::chrono::steady_clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// Reads what the server sent (noticing its close), then sends the next byte.
void TricklingClients::step(Client &client) {
    char buffer[4096];
    for (;;) {
        const ssize_t count = ::recv(client.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (count > 0) {
            const std::lock_guard lock(mutex_);
            client.received.append(buffer, static_cast<std::size_t>(count));
            continue;
        }
        if (count < 0 && errno == EINTR) continue;
        if (count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return close_client(client);
        break;
    }
    const char byte = client.sent < prefix_.size() ? prefix_[client.sent] : 'a';
    if (::send(client.fd.get(), &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) ++client.sent;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) close_client(client);
}

void TricklingClients::close_client(Client &client) {
    {
        const std::lock_guard lock(mutex_);
        client.open = false;
    }
    client.fd = UniqueFd();
    ++closed_;
}

}  // namespace sockhost::test
