// The supervisor's control socket (`control_socket` in the config): a Unix stream socket,
// mode 0600, on which `sockhost reload` asks for a reload and waits for its outcome.
//
// Protocol, one line each way: the client sends "reload\n"; the supervisor answers, once
// the new generation is READY or has failed, "ok MESSAGE\n" or "failed REASON\n" and closes.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/listener.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace sockhost {

// Binds the control socket with mode 0600 (a stale socket file is replaced, a live one is
// "address in use"); the file is removed when the returned socket is destroyed.
Result<ListenerSocket> create_control_socket(const std::filesystem::path &path);

// A connected control client: what it sent so far, and until when it may take to send
// its request line (the supervisor does not hold a silent client forever).
struct ControlClient {
    UniqueFd fd;
    std::string received;
    std::chrono::steady_clock::time_point request_deadline{};
};

// Reads what is available; the request line once complete ("reload"), nullopt if more is
// needed. A closed or broken client or an oversized line is an error.
Result<std::optional<std::string>> read_control_request(ControlClient &client);

// Sends the one-line answer (best effort: the client may be gone).
void answer_control_client(ControlClient &client, const std::string &line);

// The client side: asks the supervisor at `path` to reload and waits up to `timeout` for
// the outcome line.
Result<std::string> request_reload(const std::filesystem::path &path, std::chrono::milliseconds timeout);

}  // namespace sockhost
