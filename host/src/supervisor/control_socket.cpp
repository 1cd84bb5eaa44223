#include <sockhost/host/supervisor/control_socket.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>

namespace sockhost {

namespace {

constexpr std::size_t kMaxRequestLine = 256;

}  // namespace

Result<ListenerSocket> create_control_socket(const std::filesystem::path &path) {
    ListenAddress address;
    address.transport = Transport::unix_stream;
    address.path = path.string();
    ServerOptions options;
    options.request_queue_size = 16;
    // The socket file is created with the umask's mode: 0600 from the start, no window in
    // which another user could connect. The supervisor is single-threaded here.
    const mode_t previous = ::umask(0177);
    auto socket = ListenerSocket::bind(address, options);
    ::umask(previous);
    if (!socket) return fail("control_socket " + socket.error().message);
    return socket;
}

Result<std::optional<std::string>> read_control_request(ControlClient &client) {
    char buffer[kMaxRequestLine];
    for (;;) {
        const ssize_t count = ::recv(client.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (count < 0) return fail_errno("control client");
        if (count == 0) return fail("control client closed the connection");
        client.received.append(buffer, static_cast<std::size_t>(count));
        if (client.received.size() > kMaxRequestLine) return fail("control request line too long");
    }
    const auto newline = client.received.find('\n');
    if (newline == std::string::npos) return std::nullopt;
    return client.received.substr(0, newline);
}

void answer_control_client(ControlClient &client, const std::string &line) {
    const std::string text = line + "\n";
    [[maybe_unused]] const ssize_t ignored = ::send(client.fd.get(), text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    client.fd.reset();
}

Result<std::string> request_reload(const std::filesystem::path &path, std::chrono::milliseconds timeout) {
    const std::string where = "control socket " + path.string();
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof address.sun_path) return fail(where + ": path too long");
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno(where + ": socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
        const int error = errno;
        return fail(where + ": cannot reach the supervisor (" + std::strerror(error) + "); is sockhost running with this config?");
    }
    const std::string request = "reload\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        return fail_errno(where + ": send");
    std::string answer;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail(where + ": no answer within " + std::to_string(timeout.count() / 1000) + " s");
        pollfd readable{fd.get(), POLLIN, 0};
        const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return fail_errno(where + ": poll");
        if (ready == 0) continue;
        char buffer[1024];
        const ssize_t count = ::recv(fd.get(), buffer, sizeof buffer, 0);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return fail_errno(where + ": receive");
        if (count == 0) break;
        answer.append(buffer, static_cast<std::size_t>(count));
    }
    if (answer.empty()) return fail(where + ": the supervisor closed the connection without an answer");
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    return answer;
}

}  // namespace sockhost
