#include <sockhost/host/worker/server.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cstring>

namespace sockhost {

namespace {

// The largest UDP payload; also the cap for a unix-dgram reply.
constexpr std::size_t kMaxDatagramReply = 65507;

bool is_wildcard(const SocketAddress &address) {
    if (address.family() == AF_INET)
        return reinterpret_cast<const sockaddr_in *>(&address.storage)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (address.family() == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6 *>(&address.storage)->sin6_addr);
    return false;
}

Result<std::unique_ptr<ConcurrencyMode>> make_mode(const ServerOptions &options, Handler &handler,
                                                   std::vector<int> child_closes) {
    switch (options.mode) {
    case Mode::sync: return make_sync_mode(handler);
    case Mode::threading: return make_threading_mode(handler, options.max_threads);
    case Mode::forking: return make_forking_mode(handler, options.max_children, std::move(child_closes));
    case Mode::event: return make_event_mode(handler, options.max_connections, options.fiber_stack_size);
    }
    return make_sync_mode(handler);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::create(ListenerSocket listener, ServerOptions options,
                                               std::shared_ptr<Handler> handler) {
    UniqueFd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    UniqueFd cancel_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd || !cancel_fd) return fail_errno(listener.bound_text() + ": eventfd");
    std::unique_ptr<Server> server(
        new Server(std::move(listener), std::move(options), std::move(handler), std::move(stop_fd), std::move(cancel_fd)));
    // A request's child keeps what it needs: its connection, or for datagrams the socket
    // it replies on, and the stop and cancel fds, which reach it through fork.
    std::vector<int> child_closes;
    if (!is_datagram(server->listener_.transport())) child_closes.push_back(server->listener_.fd());
    auto mode = make_mode(server->options_, *server->handler_, std::move(child_closes));
    if (!mode) return fail(server->listener_.bound_text() + ": " + mode.error().message);
    server->mode_ = std::move(*mode);
    return server;
}

Server::Server(ListenerSocket listener, ServerOptions options, std::shared_ptr<Handler> handler, UniqueFd stop_fd,
               UniqueFd cancel_fd)
    : listener_(std::move(listener)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      stop_fd_(std::move(stop_fd)),
      cancel_fd_(std::move(cancel_fd)),
      waiter_(cancel_fd_.get(), stop_fd_.get()) {
    listener_text_ = listener_.bound_text();
    local_is_wildcard_ = is_wildcard(listener_.local_address());
    if (is_datagram(listener_.transport())) datagram_buffer_.resize(options_.max_packet_size);
}

Server::~Server() {
    if (!closed_ && mode_) close(Clock::now());
}

void Server::shutdown() { ::eventfd_write(stop_fd_.get(), 1); }

Result<void> Server::serve_forever() { return mode_->serve(*this); }

Server::Taken Server::take_request() {
    return is_datagram(listener_.transport()) ? receive_datagram() : accept_connection();
}

Server::Taken Server::accept_connection() {
    SocketAddress peer;
    peer.length = sizeof peer.storage;
    // Non-blocking like the listener: request I/O never blocks in the kernel (it waits
    // through its IoWaiter), so one flag serves every mode.
    UniqueFd connection(::accept4(listener_.fd(), peer.get(), &peer.length, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!connection) {
        const int error = errno;
        if (error == EAGAIN || error == EWOULDBLOCK) return {Intake::drained, nullptr};
        if (error == EINTR || error == ECONNABORTED || error == EPROTO) return {Intake::dropped, nullptr};
        log_error(listener_text_ + ": accept: " + std::strerror(error));
        if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) return {Intake::exhausted, nullptr};
        return {Intake::dropped, nullptr};
    }
    SocketAddress local = listener_.local_address();
    if (local_is_wildcard_) {
        local.length = sizeof local.storage;
        ::getsockname(connection.get(), local.get(), &local.length);
    }
    if (listener_.transport() == Transport::tcp && options_.tcp_nodelay) {
        const int on = 1;
        ::setsockopt(connection.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    if (peer.length == 0) peer = SocketAddress::unbound_unix();  // Linux may report no address at all
    return admitted_or_dropped(std::make_unique<StreamRequest>(std::move(connection), listener_.transport(), peer,
                                                               local, waiter_, options_.timeout));
}

Server::Taken Server::receive_datagram() {
    SocketAddress peer;
    peer.length = sizeof peer.storage;
    const ssize_t length = ::recvfrom(listener_.fd(), datagram_buffer_.data(), datagram_buffer_.size(),
                                      MSG_DONTWAIT | MSG_TRUNC, peer.get(), &peer.length);
    if (length < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {Intake::drained, nullptr};
        if (errno != EINTR) log_error(listener_text_ + ": receive: " + std::strerror(errno));
        return {Intake::dropped, nullptr};
    }
    if (peer.length == 0) {  // an unbound unix-dgram client: served, but cannot get a reply
        if (listener_.transport() != Transport::unix_dgram) return {Intake::dropped, nullptr};
        peer = SocketAddress::unbound_unix();
    }
    auto size = static_cast<std::size_t>(length);
    if (size > datagram_buffer_.size()) {
        log_warning(listener_text_ + ": datagram from " + format_address(peer) + " truncated from " +
                    std::to_string(size) + " to max_packet_size " + std::to_string(datagram_buffer_.size()) + " bytes");
        size = datagram_buffer_.size();
    }
    std::vector<char> datagram(datagram_buffer_.begin(), datagram_buffer_.begin() + static_cast<std::ptrdiff_t>(size));
    return admitted_or_dropped(std::make_unique<DatagramRequest>(listener_.fd(), std::move(datagram),
                                                                 listener_.transport(), peer, listener_.local_address(),
                                                                 waiter_, options_.timeout, kMaxDatagramReply));
}

Server::Taken Server::admitted_or_dropped(std::unique_ptr<Request> request) {
    if (!admit_request(*handler_, options_.access, *request)) return {Intake::dropped, nullptr};  // closed once, here
    return {Intake::admitted, std::move(request)};
}

void Server::close(Clock::time_point deadline) {
    if (closed_) return;
    closed_ = true;
    if (options_.block_on_close && !mode_->wait_idle(deadline))
        log_warning(listener_.bound_text() + ": " + std::to_string(mode_->in_flight()) +
                    " request(s) still in flight at the stop deadline; cancelling them");
    cancel_requests();
    mode_->terminate_remaining();
}

void Server::cancel_requests() { ::eventfd_write(cancel_fd_.get(), 1); }

}  // namespace sockhost
