// The harness's in-memory request: what sockhost_request points at in a unit test, the
// hook it belongs to, and the address text it reports (fake_host.hpp serves the calls).
#ifndef SOCKHOST_TESTING_FAKE_REQUEST_HPP
#define SOCKHOST_TESTING_FAKE_REQUEST_HPP

#include <sockhost/plugin.h>
#include <sockhost/testing/input.hpp>
#include <sockhost/testing/results.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sockhost::sdk::testing::detail {

// The harness's virtual time: a wait moves it on at once (one request), or, under
// serve_interleaved, lets the other requests run until then.
class VirtualClock {
public:
    virtual ~VirtualClock() = default;
    virtual std::uint64_t now_ms() const { return now_ms_; }
    virtual void wait_until(std::uint64_t ms) {
        if (ms > now_ms_) now_ms_ = ms;
    }

private:
    std::uint64_t now_ms_ = 0;
};

// The harness's sockhost_request: the ABI type is opaque, so this is cast to and from it.
struct FakeRequest {
    const Input *input = nullptr;
    RequestResult *result = nullptr;
    VirtualClock *clock = nullptr;
    std::uint64_t started_ms = 0;
    std::string received;        // input bytes and the turns arrived so far
    std::size_t next_turn = 0;   // of input->turns
    std::uint64_t turn_due_ms = 0;  // when it arrives
    std::size_t position = 0;    // in `received`
    std::string last_error;
    std::uint32_t last_error_kind = SOCKHOST_ERROR_KIND_NONE;
    void *user_data = nullptr;  // set_user_data (ABI 1.4), released at the request's end
    sockhost_release_fn release_user_data = nullptr;
    sockaddr_storage peer_address{};
    socklen_t peer_length = 0;
    sockaddr_storage local_address{};
    socklen_t local_length = 0;
    bool in_hook = false;
    std::thread::id hook_thread;
    // peer_identity (ABI 1.5), made from the input on first use; it points into `input`.
    bool identity_made = false;
    sockhost_peer_identity identity{};
    std::vector<const char *> alt_names;
};

// A failed host call: what last_error and last_error_kind report.
inline void fail(FakeRequest &request, std::uint32_t kind, std::string message) {
    request.last_error = std::move(message);
    request.last_error_kind = kind;
}

// Calls the plugin's release on what set_user_data attached, once, and counts it.
inline void release_user_data(FakeRequest &request) {
    void *data = request.user_data;
    const sockhost_release_fn release = request.release_user_data;
    request.user_data = nullptr;
    request.release_user_data = nullptr;
    if (release == nullptr) return;
    ++request.result->user_data_releases;
    release(data);
}

// A reload has moved the connection (Input::hand_off_after_bytes_read): it reads as ended.
inline bool handed_off(const FakeRequest &request) { return request.result->handed_off; }

inline FakeRequest &unwrap(const sockhost_request *request) {
    return *reinterpret_cast<FakeRequest *>(const_cast<sockhost_request *>(request));
}

inline bool is_datagram(sockhost_transport transport) {
    return (transport & SOCKHOST_TRANSPORTS_DATAGRAM) != 0;
}

// "1.2.3.4:5", "[::1]:5", "unix:/path", "unix:(unbound)" to a sockaddr; length 0 if the
// text is none of these.
inline void parse_address(const std::string &text, sockaddr_storage &address, socklen_t &length) {
    address = sockaddr_storage{};
    length = 0;
    if (text.rfind("unix:", 0) == 0) {
        auto &unix_address = reinterpret_cast<sockaddr_un &>(address);
        unix_address.sun_family = AF_UNIX;
        const std::string path = text.substr(5);
        if (path == "(unbound)") {
            length = sizeof(sa_family_t);
        } else if (path.size() < sizeof unix_address.sun_path) {
            std::memcpy(unix_address.sun_path, path.data(), path.size());
            length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        }
        return;
    }
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return;
    const int port = std::atoi(text.c_str() + colon + 1);
    if (port < 0 || port > 65535) return;
    if (text.front() == '[' && colon > 1 && text[colon - 1] == ']') {
        auto &ipv6 = reinterpret_cast<sockaddr_in6 &>(address);
        const std::string host = text.substr(1, colon - 2);
        if (inet_pton(AF_INET6, host.c_str(), &ipv6.sin6_addr) != 1) return;
        ipv6.sin6_family = AF_INET6;
        ipv6.sin6_port = htons(static_cast<std::uint16_t>(port));
        length = sizeof ipv6;
    } else {
        auto &ipv4 = reinterpret_cast<sockaddr_in &>(address);
        const std::string host = text.substr(0, colon);
        if (inet_pton(AF_INET, host.c_str(), &ipv4.sin_addr) != 1) return;
        ipv4.sin_family = AF_INET;
        ipv4.sin_port = htons(static_cast<std::uint16_t>(port));
        length = sizeof ipv4;
    }
}

// Marks the request as inside a hook for the duration of one hook call.
// Sets a request up to serve `input` into `result`, on `clock`.
inline void start_request(FakeRequest &request, const Input &input, RequestResult &result, VirtualClock &clock) {
    request.input = &input;
    request.result = &result;
    request.clock = &clock;
    request.started_ms = clock.now_ms();
    request.received = input.bytes;
    request.turn_due_ms = request.started_ms + (input.turns.empty() ? 0 : input.turns.front().after_ms);
    result.timeout_ms = input.timeout_ms;
    parse_address(input.peer, request.peer_address, request.peer_length);
    parse_address(input.local, request.local_address, request.local_length);
}

class InHook {
public:
    explicit InHook(FakeRequest &request) noexcept : request_(request) {
        request_.in_hook = true;
        request_.hook_thread = std::this_thread::get_id();
    }
    ~InHook() { request_.in_hook = false; }
    InHook(const InHook &) = delete;
    InHook &operator=(const InHook &) = delete;

private:
    FakeRequest &request_;
};

}  // namespace sockhost::sdk::testing::detail

#endif  // SOCKHOST_TESTING_FAKE_REQUEST_HPP
