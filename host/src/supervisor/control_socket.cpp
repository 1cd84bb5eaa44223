#include <sockhost/host/supervisor/control_socket.hpp>

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/log.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>

namespace sockhost {

namespace {

constexpr std::size_t kMaxRequestLine = 256;

}  // namespace

Result<ControlServer> ControlServer::open(const std::filesystem::path &path) {
    ListenAddress address;
    address.transport = Transport::unix_stream;
    address.path = path.string();
    BindOptions options;
    options.request_queue_size = static_cast<int>(kMaxClients);
    // The socket file is created with the umask's mode: 0600 from the start, no window in
    // which another user could connect. The supervisor is single-threaded here.
    const mode_t previous = ::umask(0177);
    auto socket = ListenerSocket::bind(address, options);
    ::umask(previous);
    if (!socket) return fail("control_socket " + socket.error().message);
    return ControlServer(std::move(*socket));
}

bool ControlServer::accepting() const {
    const auto held = std::count_if(clients_.begin(), clients_.end(), [](const Client &client) { return !client.waiting; });
    return socket_ && static_cast<std::size_t>(held) < kMaxClients && Clock::now() >= paused_until_;
}

void ControlServer::watch(std::vector<pollfd> &watched) const {
    if (accepting()) watched.push_back({socket_->fd(), POLLIN, 0});
    for (const auto &client : clients_)
        if (!client.waiting) watched.push_back(client.connection.watched());
}

std::optional<Clock::time_point> ControlServer::next_deadline() const {
    std::optional<Clock::time_point> next;
    if (paused_until_ > Clock::now()) next = paused_until_;
    for (const auto &client : clients_)
        if (!client.waiting && (!next || client.connection.deadline() < *next)) next = client.connection.deadline();
    return next;
}

void ControlServer::accept_clients() {
    while (accepting()) {
        UniqueFd client(::accept4(socket_->fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!client && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            // The connection stays queued and the socket readable: pause instead of spinning.
            log_warning(std::string("control socket: cannot accept: ") + std::strerror(errno) + "; retrying in 1 s");
            paused_until_ = Clock::now() + std::chrono::seconds(1);
        }
        if (!client) return;
        clients_.push_back({next_id_++, BoundedClient(std::move(client), Clock::now() + kRequestTimeout)});
    }
}

void ControlServer::answer(Client &client, const std::string &line, bool linger) {
    client.waiting = false;
    client.connection.answer(line + "\n", Clock::now() + kAnswerTimeout, linger);
}

void ControlServer::read_request(Client &client, const std::function<std::string()> &status) {
    // One byte past the longest line tells a line too long from one still arriving.
    if (!client.connection.read_request(kMaxRequestLine + 1)) return;  // gone before asking
    const std::string &received = client.connection.received();
    const auto newline = received.find('\n');
    if (newline == std::string::npos) {
        if (received.size() > kMaxRequestLine) return answer(client, "failed control request line too long", true);
        if (client.connection.request_ended()) return answer(client, "failed no complete request line", true);
        return;
    }
    const std::string request = received.substr(0, newline);
    if (request == "reload") client.waiting = true;
    else if (request == "status") answer(client, "ok " + status());
    else answer(client, "failed unknown request '" + request + "' (known: reload, status)", true);
}

std::vector<ControlClient> ControlServer::take_reload_requests(const std::function<std::string()> &status) {
    accept_clients();
    std::vector<ControlClient> reloads;
    const auto now = Clock::now();
    for (auto client = clients_.begin(); client != clients_.end();) {
        BoundedClient &connection = client->connection;
        if (!client->waiting && connection.phase() == BoundedClient::Phase::reading) {
            read_request(*client, status);
            if (client->waiting) reloads.push_back({client->id});
            else if (connection.phase() == BoundedClient::Phase::reading && now >= connection.deadline()) {
                log_warning("control client sent no complete request within " + duration_text(kRequestTimeout) +
                            "; closing it");
                answer(*client, "failed no request within " + duration_text(kRequestTimeout));
            }
        } else if (!client->waiting && !connection.proceed(now)) {
            log_warning("control client did not take its whole answer within " + duration_text(kAnswerTimeout) +
                        "; closed");
        }
        if (connection.done()) client = clients_.erase(client);
        else ++client;
    }
    return reloads;
}

void ControlServer::answer(ControlClient waiting, const std::string &line) {
    const auto client = std::find_if(clients_.begin(), clients_.end(), [&](const Client &held) { return held.id == waiting.id; });
    if (client == clients_.end() || !client->waiting) return;
    answer(*client, line);
    if (client->connection.done()) clients_.erase(client);
}

void ControlServer::close(const std::string &reason) {
    for (auto &client : clients_)
        if (client.connection.phase() == BoundedClient::Phase::reading) answer(client, "failed " + reason);
    std::erase_if(clients_, [](const Client &client) { return client.connection.done(); });
    socket_.reset();
}

Result<std::string> request_reload(const std::filesystem::path &path, std::chrono::milliseconds timeout) {
    return request_control(path, "reload", timeout);
}

Result<std::string> request_control(const std::filesystem::path &path, const std::string &request_line,
                                    std::chrono::milliseconds timeout) {
    const std::string where = "control socket " + path.string();
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof address.sun_path) return fail(where + ": path too long");
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno(where + ": socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
        const int error = errno;
        if (error == EACCES || error == EPERM)
            return fail(where + ": permission denied: the control socket (mode 0600) is for the user the supervisor "
                                "runs as; run sockhost " + request_line + " as that user");
        return fail(where + ": cannot reach the supervisor (" + std::strerror(error) + "); is sockhost running with this config?");
    }
    const std::string request = request_line + "\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
        return fail_errno(where + ": send");
    std::string answer;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const int left = poll_timeout_until(deadline);
        if (left == 0) return fail(where + ": no answer within " + std::to_string(timeout.count() / 1000) + " s");
        pollfd readable{fd.get(), POLLIN, 0};
        const int ready = ::poll(&readable, 1, left);
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
