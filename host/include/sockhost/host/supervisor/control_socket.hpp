// The supervisor's control socket (`control_socket` in the config): a Unix stream socket,
// mode 0600, on which `sockhost reload` asks for a reload and waits for its outcome.
//
// Protocol, one line each way: the client sends "reload\n"; the supervisor answers, once
// the new generation is READY or has failed, "ok MESSAGE\n" or "failed REASON\n" and closes.
// "status\n" is answered at once with "ok JSON\n" (generations, workers, listeners and
// their counters: Supervisor::status_json) and closed.
#pragma once

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/listener.hpp>
#include <sockhost/host/supervisor/bounded_client.hpp>

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

// A control client that asked for a reload and waits for its outcome: the control
// server holds its connection, this names it.
struct ControlClient {
    std::uint64_t id = 0;
};

// The supervisor's side. Nothing here waits without bound (bounded_client.hpp): a client
// has kRequestTimeout to send its request line and kAnswerTimeout to take its answer,
// which is written as the socket takes it, however long; at most kMaxClients are held at
// once besides those waiting for a reload (the rest wait in the socket's backlog); out of
// descriptors the socket is left alone for a second instead of polled in a spin.
class ControlServer {
public:
    static constexpr auto kRequestTimeout = std::chrono::seconds(5);
    static constexpr auto kAnswerTimeout = std::chrono::seconds(5);
    static constexpr std::size_t kMaxClients = 16;

    // Binds the control socket with mode 0600 (a stale socket file is replaced, a live one
    // is "address in use"); the file is removed when the socket is closed.
    static Result<ControlServer> open(const std::filesystem::path &path);

    // Adds the socket (while it takes new clients) and every client to a poll set.
    void watch(std::vector<pollfd> &watched) const;
    // When it must be looked at again even if nothing is ready.
    std::optional<Clock::time_point> next_deadline() const;

    // Accepts, reads and writes what is ready; answers silent clients and unknown requests
    // itself, and "status" requests with `status()`. Returns the clients that asked for a
    // reload (complete "reload" lines): they wait for answer().
    std::vector<ControlClient> take_reload_requests(const std::function<std::string()> &status);
    // Answers a client that asked for a reload with `line` (nothing if it is gone already).
    void answer(ControlClient client, const std::string &line);

    // Answers every client not answered yet "failed REASON" and closes the socket: no more
    // requests. Answers under way are still written, as the supervisor's loop runs on.
    void close(const std::string &reason);

private:
    struct Client {
        std::uint64_t id;
        BoundedClient connection;
        bool waiting = false;  // asked for a reload: not read from, until answered
    };
    explicit ControlServer(ListenerSocket socket) : socket_(std::move(socket)) {}
    bool accepting() const;
    void accept_clients();
    // Reads what has arrived; answers a complete request, or marks it waiting for a reload.
    void read_request(Client &client, const std::function<std::string()> &status);
    static void answer(Client &client, const std::string &line, bool linger = false);

    std::optional<ListenerSocket> socket_;
    std::vector<Client> clients_;
    std::uint64_t next_id_ = 1;
    Clock::time_point paused_until_;  // after running out of descriptors
};

// The client side: asks the supervisor at `path` to reload and waits up to `timeout` for
// the outcome line.
Result<std::string> request_reload(const std::filesystem::path &path, std::chrono::milliseconds timeout);
// The same for any request line ("status"): the answer line, without its newline.
Result<std::string> request_control(const std::filesystem::path &path, const std::string &request,
                                    std::chrono::milliseconds timeout);

}  // namespace sockhost
