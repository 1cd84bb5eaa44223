// StreamRequest: a connected TCP or Unix stream socket (request.hpp).
#include <sockhost/host/worker/request.hpp>

#include <sockhost/host/worker/connection_registry.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sockhost {

namespace {

// Stream output is sent when this much is queued, so a large write never doubles in memory.
constexpr std::size_t kOutputFlushThreshold = 64 * 1024;
// How long an idle connection stays open once its server stops. A keep-alive client sends
// its next request as soon as it has read an answer, so a stop can cross a request
// already on its way; closing at once would lose it. Within the grace the request is
// served, and the plugin sees stopping() and can close in-band (http: Connection: close).
constexpr auto kIdleStopGrace = std::chrono::milliseconds(100);

// The peer reset or left: its doing, not the plugin's (logged below error).
bool peer_gone(int error) {
    return error == ECONNRESET || error == EPIPE || error == ECONNABORTED || error == ETIMEDOUT ||
           error == EHOSTUNREACH || error == ENETUNREACH;
}

}  // namespace

StreamRequest::StreamRequest(UniqueFd connection, Transport transport, SocketAddress peer, SocketAddress local,
                             IoWaiter &waiter, std::chrono::milliseconds timeout)
    : Request(transport, peer, local, waiter, timeout), connection_(std::move(connection)) {
    ConnectionRegistry::add(connection_.get());
}

StreamRequest::~StreamRequest() { ConnectionRegistry::remove(connection_.get()); }

StreamRequest::Attempt StreamRequest::attempt_of(const TlsConnection::Step &step) {
    Attempt attempt;
    if (!step.error.empty()) {
        attempt.failure = step.peer_gone ? Failure::peer_gone : Failure::other;
        attempt.error = step.error;
    } else if (step.want == TlsConnection::Want::nothing) {
        attempt.count = step.count;
    } else {
        attempt.wait_events = step.want == TlsConnection::Want::readable ? POLLIN : POLLOUT;
    }
    return attempt;
}

StreamRequest::Attempt StreamRequest::try_receive(char *buffer, std::size_t capacity) {
    if (tls_) return attempt_of(tls_->read(buffer, capacity));
    Attempt attempt;
    for (;;) {
        const ssize_t count = ::recv(connection_.get(), buffer, capacity, MSG_DONTWAIT);
        if (count >= 0) {
            attempt.count = count;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            attempt.wait_events = POLLIN;
        } else {
            const int error = errno;
            attempt.failure = peer_gone(error) ? Failure::peer_gone : Failure::other;
            attempt.error = std::string("read: ") + std::strerror(error);
        }
        return attempt;
    }
}

std::int64_t StreamRequest::receive(char *buffer, std::size_t capacity, bool nothing_pending) {
    if (handed_off_) return 0;  // the socket is another worker's: nothing more is read here
    for (;;) {
        const Attempt attempt = try_receive(buffer, capacity);
        if (attempt.count > 0) {
            tally().add_received(static_cast<std::size_t>(attempt.count));
            received_anything_ = true;
            between_requests_ = false;
        }
        if (attempt.count == 0) saw_end_of_input_ = true;
        if (attempt.count >= 0) return attempt.count;
        if (attempt.failure != Failure::none) {
            fail(attempt.failure, attempt.error, idle_between_requests(nothing_pending));
            return -1;
        }
        // About to wait for the peer: what the handler wrote must reach it first, or a
        // request-response protocol would wait on both sides.
        if (!output_.empty() && !flush()) return -1;
        const bool idle = idle_between_requests(nothing_pending);
        if (tls_ && idle) tls_->release_buffers();
        const bool movable = may_move();
        switch (wait(connection_.get(), attempt.wait_events, "read", idle, movable)) {
        case WaitResult::ready: continue;
        case WaitResult::stopping:
            if (movable) {
                const Move move = move_to_next_generation();
                if (move == Move::moved) return 0;  // the plugin sees end of input; nothing else happens here
                if (move == Move::stays || !idle) continue;
            }
            if (wait_out_idle_stop_grace()) continue;
            return 0;  // an idle connection ends like a client's close
        default: return -1;
        }
    }
}

// A connection that has sent nothing yet is not idle: its first request may be on its way
// (accepted just before a drain began); it has until its timeout or the drain deadline.
// Nor is one whose next request the plugin has begun to read from the buffer (it came in
// the same segment as the last): only a connection between two requests ends at once on
// stop, has no request_deadline, and ends quietly at its timeout or the peer's reset.
bool StreamRequest::idle_between_requests(bool nothing_pending) const {
    return nothing_pending && received_anything_ && between_requests_ && !consumed_since_between_requests();
}

void StreamRequest::mark_between_requests() {
    between_requests_ = true;
    reset_consumed();
    tally().add_bytes_so_far();
    // A stream serves request after request: the deadline bounds each, not the connection.
    restart_deadline();
    waiter_->between_requests();
}

bool StreamRequest::may_move() const {
    // Between requests: the plugin has read nothing since it said so (or since the start).
    // Bytes the host received meanwhile move with the connection.
    // A TLS session's state is in this process: it cannot move (see docs/security.md), and
    // ends with a close_notify as any connection of a stopping server.
    return handoff_ != nullptr && !tls_context_ && !move_declined_ && !handed_off_ && !consumed_since_between_requests() &&
           buffered_input().size() <= HandoffChannel::kMaxUnread;
}

bool StreamRequest::stopping() const {
    if (!waiter_->stopping()) return false;
    // A connection that will move is kept: the plugin should not end it (plugin.h).
    return handoff_ == nullptr || tls_context_ || move_declined_ || !handoff_->reload_draining();
}

StreamRequest::Move StreamRequest::move_to_next_generation() {
    // How long a connection no worker took waits before it is offered again (the next
    // generation's worker may be starting again), unless its client sends a request first.
    // Short: a taker that began to drain itself (a reload right after this one) sent it
    // back, and the next generation is there already.
    constexpr auto kOfferAgainAfter = std::chrono::milliseconds(250);
    if (!handoff_->reload_draining()) {  // a stop: nothing moves
        move_declined_ = true;
        return Move::end;
    }
    for (;;) {
        switch (handoff_->offer(connection_.get(), buffered_input(), handoff_state_, *waiter_)) {
        case ConnectionHandoff::Offered::taken:
            handed_off_ = true;
            output_.clear();
            // What was buffered went with it: the plugin here must not see a part of it
            // as a last line at end of input.
            discard_buffered_input();
            return Move::moved;
        case ConnectionHandoff::Offered::close: move_declined_ = true; return Move::end;
        case ConnectionHandoff::Offered::not_taken: break;
        }
        // Served here meanwhile: a request that arrives is answered, and the connection is
        // offered again once it is idle.
        switch (waiter_->wait_for(connection_.get(), POLLIN, Clock::now() + kOfferAgainAfter, false)) {
        case WaitResult::ready: return Move::stays;
        case WaitResult::timed_out: continue;
        default: move_declined_ = true; return Move::end;  // cancelled: the drain is over
        }
    }
}

bool StreamRequest::set_handoff_state(const void *data, std::size_t length) {
    if (length > SOCKHOST_HANDOFF_STATE_MAX)
        return fail("set_handoff_state: " + std::to_string(length) + " bytes, more than SOCKHOST_HANDOFF_STATE_MAX (" +
                    std::to_string(SOCKHOST_HANDOFF_STATE_MAX) + ")");
    if (length > 0 && data == nullptr) return fail("set_handoff_state: no data for " + std::to_string(length) + " bytes");
    handoff_state_.assign(static_cast<const char *>(data), length);
    return true;
}

void StreamRequest::adopt_handed_over(std::string_view unread, std::string connection_state) {
    preload_input(unread);
    // It stays attached, for the next reload too, until the plugin replaces it.
    handoff_state_ = connection_state;
    received_handoff_state_ = std::move(connection_state);
    // It was between requests where it came from: idle here too until its next byte.
    received_anything_ = true;
    between_requests_ = unread.empty();
}

bool StreamRequest::wait_out_idle_stop_grace() {
    const auto now = Clock::now();
    if (!idle_close_at_) idle_close_at_ = now + kIdleStopGrace;
    if (now >= *idle_close_at_) return false;
    // Not an idle wait: the stop is already known. Cancellation still ends it.
    return waiter_->wait_for(connection_.get(), POLLIN, idle_close_at_, false) == WaitResult::ready;
}

StreamRequest::Attempt StreamRequest::try_send(const char *data, std::size_t length) {
    if (tls_) return attempt_of(tls_->write(data, length));
    Attempt attempt;
    for (;;) {
        const ssize_t sent = ::send(connection_.get(), data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent >= 0) {
            attempt.count = sent;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            attempt.wait_events = POLLOUT;
        } else {
            const int error = errno;
            attempt.failure = peer_gone(error) ? Failure::peer_gone : Failure::other;
            attempt.error = std::string("write: ") + std::strerror(error);
        }
        return attempt;
    }
}

bool StreamRequest::send_all(const char *data, std::size_t length) {
    while (length > 0) {
        const Attempt attempt = try_send(data, length);
        if (attempt.count >= 0) {
            tally().add_sent(static_cast<std::size_t>(attempt.count));
            data += attempt.count;
            length -= static_cast<std::size_t>(attempt.count);
            continue;
        }
        if (attempt.failure != Failure::none) return fail(attempt.failure, attempt.error);
        if (wait(connection_.get(), attempt.wait_events, "write") != WaitResult::ready) return false;
    }
    return true;
}

bool StreamRequest::queue_output(const char *data, std::size_t length) {
    if (handed_off_) return true;  // the connection is another worker's: nothing goes out from here
    if (output_.size() + length < kOutputFlushThreshold) {
        output_.insert(output_.end(), data, data + length);
        return true;
    }
    // Large writes go straight from the caller's buffer after what was queued before.
    return flush() && send_all(data, length);
}

bool StreamRequest::flush() {
    if (output_.empty() || handed_off_) return true;
    const bool sent = send_all(output_.data(), output_.size());
    output_.clear();
    return sent;
}

bool StreamRequest::complete() {
    // Handed over: no FIN, no lingering read; the destructor only closes this copy.
    if (handed_off_) return true;
    const bool flushed = flush();
    if (flushed) send_close_notify();
    // Send FIN now; close() follows when the request is destroyed.
    ::shutdown(connection_.get(), SHUT_WR);
    if (flushed && !saw_end_of_input_ && unread_input_pending()) linger();
    return flushed;
}

bool StreamRequest::handshake() {
    awaiting_handshake_ = false;
    auto connection = TlsConnection::start(*tls_context_, connection_.get());
    if (!connection) return fail(connection.error().message);
    tls_.emplace(std::move(*connection));
    const auto timeout = tls_context_->config().handshake_timeout;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto step = tls_->handshake();
        if (step.want == TlsConnection::Want::nothing && step.error.empty()) {
            tls_peer_ = tls_->peer();
            // The handshake's stack (tens of KiB of OpenSSL frames) is not the idle connection's.
            waiter_->release_unused_stack();
            return true;
        }
        if (!step.error.empty()) {
            tls_.reset();  // failed: no close_notify follows the alert OpenSSL sent
            return fail(step.peer_gone ? Failure::peer_gone : Failure::other, step.error);
        }
        const short events = step.want == TlsConnection::Want::readable ? POLLIN : POLLOUT;
        switch (waiter_->wait_for(connection_.get(), events, deadline, false)) {
        case WaitResult::ready:
        case WaitResult::stopping: continue;
        case WaitResult::timed_out:
            tls_.reset();
            return fail(Failure::timeout, "TLS handshake: not finished within handshake_timeout (" +
                                              std::to_string(timeout.count()) + " ms)");
        case WaitResult::cancelled: tls_.reset(); return fail(Failure::cancelled, "TLS handshake: cancelled by the stop");
        }
    }
}

void StreamRequest::send_close_notify() {
    if (!tls_ || !tls_peer_) return;
    // A peer that reads nothing gets up to `timeout` to take it (as any write); a
    // failure here changes nothing of how the request ended.
    const auto deadline = Clock::now() + (timeout().count() > 0 ? timeout() : kLongestWait);
    for (;;) {
        const auto want = tls_->close_notify();
        if (want == TlsConnection::Want::nothing) return;
        if (waiter_->wait_for(connection_.get(), want == TlsConnection::Want::readable ? POLLIN : POLLOUT, deadline,
                              false) != WaitResult::ready)
            return;
    }
}

std::optional<ucred> StreamRequest::peer_credentials() {
    if (!credentials_)
        credentials_ = transport() == Transport::unix_stream ? sockhost::peer_credentials(connection_.get()) : std::nullopt;
    return *credentials_;
}

const sockhost_peer_identity &StreamRequest::peer_identity() {
    if (!identity_) identity_ = std::make_unique<PeerIdentity>(peer_credentials(), tls_peer());
    return identity_->abi();
}

bool StreamRequest::unread_input_pending() {
    if (has_buffered_input()) return true;
    char probe = 0;
    return ::recv(connection_.get(), &probe, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

// Closing a TCP socket with unread input makes the kernel send RST, and the peer may then
// lose the end of the reply it has not read yet. So, like nginx's lingering close, read
// and drop the client's input until it closes too, within a bound.
void StreamRequest::linger() {
    constexpr auto kLingerTime = std::chrono::seconds(2);
    drop_input(Clock::now() + kLingerTime);
}

void StreamRequest::end_refused() {
    // Refused after its handshake (by verify): the client learns it from a close_notify. In
    // the accepting loop a refusal is before any handshake, so this never waits there.
    send_close_notify();
    ::shutdown(connection_.get(), SHUT_WR);
    // In the accepting loop: never waits, so a refused client cannot hold the loop.
    drop_input(std::nullopt);
}

void StreamRequest::drop_input(std::optional<Clock::time_point> until) {
    constexpr std::size_t kLingerBytes = 1024 * 1024;
    // Not on the stack: an event-mode request's fiber stack may be 16 KiB in all. Shared
    // by every request of the thread, which is fine: what is read here is dropped.
    thread_local char scratch[16 * 1024];
    for (std::size_t drained = 0; drained < kLingerBytes;) {
        const ssize_t count = ::recv(connection_.get(), scratch, sizeof scratch, MSG_DONTWAIT);
        if (count == 0) return;
        if (count > 0) {
            tally().add_received(static_cast<std::size_t>(count));
            drained += static_cast<std::size_t>(count);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return;
        if (!until || waiter_->wait_for(connection_.get(), POLLIN, until, true) != WaitResult::ready) return;
    }
}

}  // namespace sockhost
