#include <sockhost/host/worker/request.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sockhost {

namespace {

// Stream output is sent when this much is queued, so a large write never doubles in memory.
constexpr std::size_t kOutputFlushThreshold = 64 * 1024;
constexpr std::size_t kInputChunk = 16 * 1024;
// How long an idle connection stays open once its server stops. A keep-alive client sends
// its next request as soon as it has read an answer, so a stop can cross a request
// already on its way; closing at once would lose it. Within the grace the request is
// served, and the plugin sees stopping() and can close in-band (http: Connection: close).
constexpr auto kIdleStopGrace = std::chrono::milliseconds(100);

}  // namespace

Request::Request(Transport transport, SocketAddress peer, SocketAddress local, IoWaiter &waiter,
                 std::chrono::milliseconds timeout)
    : waiter_(&waiter),
      transport_(transport),
      peer_(peer),
      local_(local),
      timeout_(timeout) {}

bool Request::fail(std::string reason) {
    last_error_ = std::move(reason);
    return false;
}

void Request::start_deadline(std::chrono::milliseconds length) {
    deadline_length_ = length;  // at most kLongestWait: the config bounds it
    deadline_.reset();
    if (length.count() != 0) deadline_ = Clock::now() + length;
}

WaitResult Request::wait(int fd, short events, const char *what, bool idle, bool wake_on_stop) {
    const auto now = Clock::now();
    const auto deadline_text = [&] {
        return std::string(what) + " timed out: the request took longer than its request_deadline of " +
               std::to_string(deadline_length_.count()) + " ms";
    };
    // An idle connection (between requests) has no request yet: only `timeout` bounds the
    // wait, and the next request's deadline starts with its first byte.
    const std::optional<Clock::time_point> deadline = idle ? std::nullopt : deadline_;
    // Passed already: fail without polling, so input that happens to be ready cannot
    // stretch the request beyond its deadline either.
    if (deadline && now >= *deadline) {
        fail(deadline_text());
        return WaitResult::timed_out;
    }
    std::optional<Clock::time_point> until = deadline;
    bool per_wait_timeout_first = false;
    // timeout_ is at most kLongestWait (the config and set_timeout_ms bound it): no overflow.
    if (timeout_.count() != 0 && (!until || now + timeout_ < *until)) {
        until = now + timeout_;
        per_wait_timeout_first = true;
    }
    const WaitResult result = waiter_->wait_for(fd, events, until, idle || wake_on_stop);
    if (!idle) tally_.note_wait(result);
    if (idle && result == WaitResult::ready) restart_deadline();
    if (result == WaitResult::timed_out)
        fail(per_wait_timeout_first
                 ? std::string(what) + " timed out after " + std::to_string(timeout_.count()) + " ms"
                 : deadline_text());
    else if (result == WaitResult::cancelled)
        fail(std::string(what) + " cancelled: the server is stopping");
    return result;
}

std::int64_t Request::read(void *buffer, std::size_t capacity) {
    if (capacity == 0) {  // 0 would read as end of input
        fail("read: the buffer capacity is 0");
        return -1;
    }
    const std::size_t buffered = input_.size() - input_start_;
    if (buffered > 0) {
        const std::size_t count = std::min(buffered, capacity);
        std::memcpy(buffer, input_.data() + input_start_, count);
        input_start_ += count;
        consumed_since_between_requests_ = true;
        return static_cast<std::int64_t>(count);
    }
    const std::int64_t count = receive(static_cast<char *>(buffer), capacity, true);
    if (count > 0) consumed_since_between_requests_ = true;
    return count;
}

bool Request::fill_input() {
    if (input_start_ > 0) {  // keep the unread tail at the front
        input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(input_start_));
        input_start_ = 0;
    }
    const std::size_t old_size = input_.size();
    input_filled_ = old_size;
    input_.resize(old_size + kInputChunk);
    const std::int64_t count = receive(input_.data() + old_size, kInputChunk, old_size == 0);
    input_.resize(old_size + static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
    input_filled_ = input_.size();
    return count > 0;
}

std::int64_t Request::read_line(char *buffer, std::size_t capacity) {
    if (capacity < 2) {
        fail("read_line: the buffer must hold at least one byte and the NUL");
        return -1;
    }
    const std::size_t limit = capacity - 1;
    std::size_t searched = 0;  // bytes after the buffered start known to hold no '\n'
    bool at_end = false;
    for (;;) {
        // Recomputed each round: fill_input() may move or reallocate the buffer.
        const char *begin = input_.data() + input_start_;
        const std::size_t buffered = input_.size() - input_start_;
        const auto *newline =
            buffered > searched ? static_cast<const char *>(std::memchr(begin + searched, '\n', buffered - searched))
                                : nullptr;
        std::size_t line_length = buffered;  // at end of input: the last line, without '\n'
        if (newline != nullptr) {
            line_length = static_cast<std::size_t>(newline - begin) + 1;
        } else if (!at_end && buffered <= limit) {
            searched = buffered;
            last_error_.clear();
            if (!fill_input()) {
                if (!last_error_.empty()) return -1;
                at_end = true;
            }
            continue;
        }
        if (line_length > limit) {
            fail("read_line: line longer than " + std::to_string(limit) + " bytes");
            return -1;
        }
        std::memcpy(buffer, begin, line_length);
        buffer[line_length] = '\0';
        input_start_ += line_length;
        if (line_length > 0) consumed_since_between_requests_ = true;
        return static_cast<std::int64_t>(line_length);
    }
}

bool Request::write(const void *data, std::size_t length) {
    return queue_output(static_cast<const char *>(data), length);
}

bool Request::sleep_ms(std::uint64_t milliseconds) {
    const auto wake = Clock::now() + bounded_wait(milliseconds);
    if (waiter_->sleep_until(wake) == WaitResult::cancelled) {
        tally_.note_wait(WaitResult::cancelled);
        return fail("sleep cancelled: the server is stopping");
    }
    return true;
}

// --- streams ---------------------------------------------------------------------------

StreamRequest::StreamRequest(UniqueFd connection, Transport transport, SocketAddress peer, SocketAddress local,
                             IoWaiter &waiter, std::chrono::milliseconds timeout)
    : Request(transport, peer, local, waiter, timeout), connection_(std::move(connection)) {}

std::int64_t StreamRequest::receive(char *buffer, std::size_t capacity, bool nothing_pending) {
    if (handed_off_) return 0;  // the socket is another worker's: nothing more is read here
    for (;;) {
        const ssize_t count = ::recv(connection_.get(), buffer, capacity, MSG_DONTWAIT);
        if (count > 0) {
            tally().add_received(static_cast<std::size_t>(count));
            received_anything_ = true;
            between_requests_ = false;
        }
        if (count == 0) saw_end_of_input_ = true;
        if (count >= 0) return count;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            fail(std::string("read: ") + std::strerror(errno));
            return -1;
        }
        // About to wait for the peer: what the handler wrote must reach it first, or a
        // request-response protocol would wait on both sides.
        if (!output_.empty() && !flush()) return -1;
        // A connection that has sent nothing yet is not idle: its first request may be on its
        // way (accepted just before a drain began); it has until its timeout or the drain
        // deadline. Only a connection between two requests ends at once on stop.
        const bool idle = nothing_pending && received_anything_ && between_requests_;
        const bool movable = may_move();
        switch (wait(connection_.get(), POLLIN, "read", idle, movable)) {
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

void StreamRequest::mark_between_requests() {
    between_requests_ = true;
    reset_consumed();
    tally().add_bytes_so_far();
    // A stream serves request after request: the deadline bounds each, not the connection.
    restart_deadline();
}

bool StreamRequest::may_move() const {
    // Between requests: the plugin has read nothing since it said so (or since the start).
    // Bytes the host received meanwhile move with the connection.
    return handoff_ != nullptr && !move_declined_ && !handed_off_ && !consumed_since_between_requests() &&
           buffered_input().size() <= HandoffChannel::kMaxUnread;
}

bool StreamRequest::stopping() const {
    if (!waiter_->stopping()) return false;
    // A connection that will move is kept: the plugin should not end it (plugin.h).
    return handoff_ == nullptr || move_declined_ || !handoff_->reload_draining();
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

bool StreamRequest::send_all(const char *data, std::size_t length) {
    while (length > 0) {
        const ssize_t sent = ::send(connection_.get(), data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent >= 0) {
            tally().add_sent(static_cast<std::size_t>(sent));
            data += sent;
            length -= static_cast<std::size_t>(sent);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(std::string("write: ") + std::strerror(errno));
        if (wait(connection_.get(), POLLOUT, "write") != WaitResult::ready) return false;
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
    // Send FIN now; close() follows when the request is destroyed.
    ::shutdown(connection_.get(), SHUT_WR);
    if (flushed && !saw_end_of_input_ && unread_input_pending()) linger();
    return flushed;
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

// --- datagrams -------------------------------------------------------------------------

DatagramRequest::DatagramRequest(int socket_fd, std::vector<char> datagram, Transport transport, SocketAddress peer,
                                 SocketAddress local, IoWaiter &waiter, std::chrono::milliseconds timeout,
                                 std::size_t max_reply_size)
    : Request(transport, peer, local, waiter, timeout),
      socket_fd_(socket_fd),
      datagram_(std::move(datagram)),
      max_reply_size_(max_reply_size) {}

std::int64_t DatagramRequest::receive(char *buffer, std::size_t capacity, bool) {
    // The datagram reads like a short stream: its bytes, then end of input.
    if (delivered_) return 0;
    const std::size_t count = std::min(capacity, datagram_.size());
    std::memcpy(buffer, datagram_.data(), count);
    datagram_.erase(datagram_.begin(), datagram_.begin() + static_cast<std::ptrdiff_t>(count));
    delivered_ = datagram_.empty();
    return static_cast<std::int64_t>(count);
}

bool DatagramRequest::queue_output(const char *data, std::size_t length) {
    if (reply_.size() + length > max_reply_size_)
        return fail("write: the reply would exceed " + std::to_string(max_reply_size_) + " bytes, the largest datagram");
    reply_.insert(reply_.end(), data, data + length);
    return true;
}

bool DatagramRequest::complete() {
    if (reply_.empty()) return true;  // nothing written: no reply (documented)
    if (peer().is_unbound_unix()) return fail("reply dropped: the unix-dgram client has no bound address to reply to");
    for (;;) {
        if (::sendto(socket_fd_, reply_.data(), reply_.size(), MSG_DONTWAIT | MSG_NOSIGNAL, peer().get(),
                     peer().length) >= 0) {
            tally().add_sent(reply_.size());
            return true;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait(socket_fd_, POLLOUT, "reply") != WaitResult::ready) return false;
            continue;
        }
        return fail(std::string("reply to ") + peer_text() + ": " + std::strerror(errno));
    }
}

}  // namespace sockhost
