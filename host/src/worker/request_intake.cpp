#include <sockhost/host/worker/request_intake.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace

RequestIntake::RequestIntake(const ListenerSocket &listener, const ServerOptions &options, Handler &handler,
                             IoWaiter &waiter, int stop_fd, int cancel_fd, ConnectionHandoff *handoff,
                             const ListenerAccounting &accounting, std::shared_ptr<const TlsContext> tls)
    : listener_(listener), options_(options), handler_(handler), waiter_(waiter), stop_fd_(stop_fd),
      cancel_fd_(cancel_fd), handoff_(handoff),
      moves_connections_(handoff != nullptr && handoff->enabled() ? handoff : nullptr),
      listener_text_(listener.bound_text()), accounting_(accounting),
      local_is_wildcard_(is_wildcard(listener.local_address())), tls_(std::move(tls)) {
    if (is_datagram(listener_.transport())) datagram_buffer_.resize(options_.max_packet_size);
}

RequestIntake::Taken RequestIntake::take() {
    if (is_datagram(listener_.transport())) return receive_datagram();
    if (handoff_ != nullptr) [[unlikely]] {
        if (auto handed_over = handoff_->take_handed_over()) return take_handed_over(std::move(*handed_over));
    }
    return accept_connection();
}

// A connection another worker served: its client is already connected and may be waiting
// for an answer. It is a new request here, through the allow/deny lists and verify.
RequestIntake::Taken RequestIntake::take_handed_over(HandedOverConnection handed_over) {
    // From now this worker owns it: the offerer closes its copy (connection_handoff.hpp).
    // A parked one was answered when it was parked.
    if (handed_over.reply) answer_offer(handed_over.reply.get(), kTakenByte);
    handed_over.reply.reset();
    SocketAddress peer;
    peer.length = sizeof peer.storage;
    if (::getpeername(handed_over.connection.get(), peer.get(), &peer.length) != 0) return {Outcome::dropped, nullptr};
    if (peer.length == 0) peer = SocketAddress::unbound_unix();
    SocketAddress local = listener_.local_address();
    if (local_is_wildcard_) {
        local.length = sizeof local.storage;
        ::getsockname(handed_over.connection.get(), local.get(), &local.length);
    }
    last_peer_ = peer;
    auto request = std::make_unique<StreamRequest>(std::move(handed_over.connection), listener_.transport(), peer,
                                                   local, waiter_, options_.timeout);
    request->tally().start(&accounting_, true, false);  // accepted by the worker it came from
    if (handed_over.held) handoff_->forget(1);          // counted by its request from now
    request->adopt_handed_over(handed_over.unread, std::move(handed_over.connection_state));
    request->start_deadline(options_.request_deadline);
    request->set_handoff(moves_connections_);
    return admitted_or_dropped(std::move(request));
}

RequestIntake::Taken RequestIntake::accept_connection() {
    SocketAddress &peer = last_peer_;
    peer.length = sizeof peer.storage;
    // Non-blocking like the listener: request I/O never blocks in the kernel (it waits
    // through its IoWaiter), so one flag serves every mode.
    UniqueFd connection(::accept4(listener_.fd(), peer.get(), &peer.length, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!connection) {
        const int error = errno;
        if (error == EAGAIN || error == EWOULDBLOCK) return {Outcome::drained, nullptr};
        if (error != EINTR && accounting_.counters != nullptr)
            accounting_.counters->accept_errors.fetch_add(1, std::memory_order_relaxed);
        if (error == EINTR || error == ECONNABORTED || error == EPROTO) return {Outcome::dropped, nullptr};
        if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
            // One line per episode, not one per retry (ten a second): the next line says
            // when accepting works again.
            if (failed_accepts_++ == 0)
                log_error(listener_text_ + ": accept: " + std::strerror(error) +
                          "; pausing accepts, and logging again once they succeed");
            return {Outcome::exhausted, nullptr};
        }
        log_error(listener_text_ + ": accept: " + std::strerror(error));
        return {Outcome::dropped, nullptr};
    }
    if (failed_accepts_ != 0) [[unlikely]] {
        log_info(listener_text_ + ": accepting again after " + std::to_string(failed_accepts_) + " failed attempt(s)");
        failed_accepts_ = 0;
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
    auto request = std::make_unique<StreamRequest>(std::move(connection), listener_.transport(), peer, local, waiter_,
                                                   options_.timeout);
    request->tally().start(&accounting_, true, true);
    request->start_deadline(options_.request_deadline);  // counts from the accept, through verify
    request->set_handoff(moves_connections_);
    if (tls_) request->use_tls(tls_);
    return admitted_or_dropped(std::move(request));
}

RequestIntake::Taken RequestIntake::receive_datagram() {
    SocketAddress &peer = last_peer_;
    peer.length = sizeof peer.storage;
    const ssize_t length = ::recvfrom(listener_.fd(), datagram_buffer_.data(), datagram_buffer_.size(),
                                      MSG_DONTWAIT | MSG_TRUNC, peer.get(), &peer.length);
    if (length < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {Outcome::drained, nullptr};
        const int error = errno;
        if (std::string note; error != EINTR && receive_errors_log_.admit(note))
            log_error(listener_text_ + ": receive: " + std::strerror(error) + note);
        return {Outcome::dropped, nullptr};
    }
    if (peer.length == 0) {  // an unbound unix-dgram client: served, but cannot get a reply
        if (listener_.transport() != Transport::unix_dgram) return {Outcome::dropped, nullptr};
        peer = SocketAddress::unbound_unix();
    }
    auto size = static_cast<std::size_t>(length);
    if (size > datagram_buffer_.size()) {
        if (accounting_.counters != nullptr)
            accounting_.counters->datagrams_truncated.fetch_add(1, std::memory_order_relaxed);
        if (std::string note; truncated_log_.admit(note))
            log_warning(listener_text_ + ": datagram from " + format_address(peer) + " truncated from " +
                        std::to_string(size) + " to max_packet_size " + std::to_string(datagram_buffer_.size()) +
                        " bytes" + note);
        size = datagram_buffer_.size();
    }
    std::vector<char> datagram(datagram_buffer_.begin(), datagram_buffer_.begin() + static_cast<std::ptrdiff_t>(size));
    auto request = std::make_unique<DatagramRequest>(listener_.fd(), std::move(datagram), listener_.transport(), peer,
                                                     listener_.local_address(), waiter_, options_.timeout,
                                                     kMaxDatagramReply);
    request->tally().start(&accounting_, false, false);
    request->tally().add_received(size);
    return admitted_or_dropped(std::move(request));
}

RequestIntake::Taken RequestIntake::admitted_or_dropped(std::unique_ptr<Request> request) {
    if (!admit_request(handler_, options_.access, *request)) return {Outcome::dropped, nullptr};  // closed once, here
    return {Outcome::admitted, std::move(request)};
}

}  // namespace sockhost
