// The supervisor's admin endpoint (`admin` in the config): HTTP on a TCP or Unix stream
// socket, served in the supervisor's own poll loop, never by plugin code (admin_http.hpp
// has the requests and answers).
//
// Nothing here waits: a client has kClientTimeout for its whole exchange (send the head,
// take the answer), at most kMaxClients are held at once (the rest wait in the backlog),
// a request head is at most kMaxAdminRequest bytes, and answers are written without
// blocking from a buffer of at most kMaxAnswer bytes, then the connection is closed (after
// a lingering close for error answers: bounded_client.hpp).
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/listener.hpp>
#include <sockhost/host/supervisor/admin_http.hpp>
#include <sockhost/host/supervisor/bounded_client.hpp>

#include <poll.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

class AdminServer {
public:
    static constexpr auto kClientTimeout = std::chrono::seconds(5);
    static constexpr std::size_t kMaxClients = 32;
    static constexpr std::size_t kMaxAnswer = 32 * 1024 * 1024;

    // Binds `address`; the error names the `admin` key and the address.
    static Result<AdminServer> open(const ListenAddress &address);

    const ListenAddress &address() const { return address_; }
    std::string bound_text() const { return socket_.bound_text(); }

    void watch(std::vector<pollfd> &watched) const;
    std::optional<Clock::time_point> next_deadline() const;
    // Accepts, reads, answers and writes what is ready; drops clients past their deadline.
    void serve(const AdminPages &pages);

private:
    AdminServer(ListenerSocket socket, ListenAddress address) : socket_(std::move(socket)), address_(std::move(address)) {}
    bool accepting() const;
    void accept_clients();
    // Reads what has arrived and, once the head is complete (or bad), starts the answer.
    void read_request(BoundedClient &client, const AdminPages &pages);

    ListenerSocket socket_;
    ListenAddress address_;
    std::vector<BoundedClient> clients_;
    Clock::time_point paused_until_;  // after running out of descriptors
};

}  // namespace sockhost
