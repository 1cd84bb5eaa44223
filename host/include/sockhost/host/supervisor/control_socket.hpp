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

#include <poll.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

// A connected control client: what it sent so far, and until when it may take to send
// its request line (the supervisor does not hold a silent client forever).
struct ControlClient {
    UniqueFd fd;
    std::string received;
    Clock::time_point request_deadline{};

    // Sends the one-line answer and closes (best effort: the client may be gone).
    void answer(const std::string &line);
};

// The supervisor's side. Nothing here waits without bound: a client has
// kRequestTimeout to send its request line, at most kMaxClients are held at once (the
// rest wait in the socket's backlog), answers are sent without blocking, and out of
// descriptors the socket is left alone for a second instead of polled in a spin.
class ControlServer {
public:
    static constexpr auto kRequestTimeout = std::chrono::seconds(5);
    static constexpr std::size_t kMaxClients = 16;

    // Binds the control socket with mode 0600 (a stale socket file is replaced, a live one
    // is "address in use"); the file is removed when the server is destroyed.
    static Result<ControlServer> open(const std::filesystem::path &path);

    // Adds the socket (while it takes new clients) and every client to a poll set.
    void watch(std::vector<pollfd> &watched) const;
    // When it must be looked at again even if nothing is readable.
    std::optional<Clock::time_point> next_deadline() const;

    // Accepts and reads what is ready; answers silent clients and unknown requests itself.
    // Answers "status" requests with `status()`. Returns the clients that asked for a
    // reload (complete "reload" lines).
    std::vector<ControlClient> take_reload_requests(const std::function<std::string()> &status);

    // Answers every connected client "failed REASON" and closes the socket: no more requests.
    void close(const std::string &reason);

private:
    explicit ControlServer(ListenerSocket socket) : socket_(std::move(socket)) {}
    bool accepting() const;
    void accept_clients();

    std::optional<ListenerSocket> socket_;
    std::vector<ControlClient> clients_;  // connected, request not complete yet
    Clock::time_point paused_until_;      // after running out of descriptors
};

// The client side: asks the supervisor at `path` to reload and waits up to `timeout` for
// the outcome line.
Result<std::string> request_reload(const std::filesystem::path &path, std::chrono::milliseconds timeout);
// The same for any request line ("status"): the answer line, without its newline.
Result<std::string> request_control(const std::filesystem::path &path, const std::string &request,
                                    std::chrono::milliseconds timeout);

}  // namespace sockhost
