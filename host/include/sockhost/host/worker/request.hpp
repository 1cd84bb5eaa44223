// One request as the host serves it: a stream connection, or one datagram and its reply.
// The plugin reaches it through the host function table (host_api.hpp); C++ handlers
// composed in-process call it directly.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/worker_activity.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>
#include <sockhost/host/worker/hook_trace.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/worker/peer_identity.hpp>
#include <sockhost/host/worker/request_tally.hpp>
#include <sockhost/host/worker/tls_connection.hpp>
#include <sockhost/host/shared/unique_fd.hpp>
#include <sockhost/plugin.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// The ABI's opaque request type is the base of the host's Request, so the host function
// table converts with a plain static_cast: every sockhost_request a plugin is handed is a
// Request (the host creates no other), and a plugin passing back anything else breaks
// the ABI's contract, which no cast could check.
struct sockhost_request {};

namespace sockhost {

class Request : public sockhost_request {
public:
    Request(const Request &) = delete;
    Request &operator=(const Request &) = delete;
    // One the mode never ran (no thread, fiber or child for it) ends as an error.
    virtual ~Request() {
        release_user_data();
        tally_.end(RequestOutcome::error, peer_);
    }

    // The host function table's semantics (plugin.h): counts, 0 at EOF, -1 on error.
    std::int64_t read(void *buffer, std::size_t capacity);
    std::int64_t read_line(char *buffer, std::size_t capacity);
    bool write(const void *data, std::size_t length);
    virtual bool flush() = 0;
    bool sleep_ms(std::uint64_t milliseconds);

    // After the handler: stream output is flushed and the write side shut down; a datagram
    // reply is sent. Returns false (with last_error) if that failed.
    virtual bool complete() = 0;

    // socketserver's shutdown_request for a refused request: a stream connection gets an
    // orderly end (FIN; what the client already sent is read and dropped, so the close is
    // no reset) without waiting for anything. A datagram needs nothing.
    virtual void end_refused() {}

    Transport transport() const { return transport_; }
    const SocketAddress &peer() const { return peer_; }
    const SocketAddress &local() const { return local_; }
    // Formatted on first use: most requests never print their addresses.
    const std::string &peer_text() const {
        if (peer_text_.empty()) peer_text_ = format_address(peer_);
        return peer_text_;
    }
    const std::string &local_text() const {
        if (local_text_.empty()) local_text_ = format_address(local_);
        return local_text_;
    }

    std::chrono::milliseconds timeout() const { return timeout_; }
    void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

    // The whole-request deadline (the listener's request_deadline): from now, every wait
    // for the peer fails once `length` has passed, however slowly bytes keep arriving, so
    // a client trickling its request cannot hold a thread, child or fiber for long. The
    // per-wait timeout restarts with each byte; this does not. 0: none.
    void start_deadline(std::chrono::milliseconds length);
    // The same length again, from now.
    void restart_deadline() { start_deadline(deadline_length_); }

    const std::string &last_error() const { return last_error_; }
    // What the last failed host call met. Only `other` is the plugin's or the host's
    // failure; the rest are the peer's doing or a stop, and are logged below error.
    enum class Failure : std::uint8_t { none, timeout, peer_gone, cancelled, line_too_long, other };
    Failure failure() const { return failure_; }
    // The same, as the plugin sees it (last_error_kind, ABI 1.4): unlike failure(), it is
    // not cleared between hooks, as last_error is not.
    Failure last_failure() const { return last_failure_; }
    // That failure came in a wait between two requests (a keep-alive connection the peer
    // left idle until `timeout`, or reset): the usual end of a connection, not an error.
    bool failed_between_requests() const { return failed_between_requests_; }
    // Before each hook: a failure met in an earlier one (and dealt with) says nothing of
    // how this one ends.
    void clear_failure() {
        failure_ = Failure::none;
        failed_between_requests_ = false;
    }
    // The message a handler gave with set_error, logged when a hook fails.
    const std::string &handler_error() const { return handler_error_; }
    void set_handler_error(std::string message) { handler_error_ = std::move(message); }

    // The plugin's user data (set_user_data, ABI 1.4): released when replaced, and once at
    // the request's end (release_user_data) on the thread of its last hook.
    void set_user_data(void *data, sockhost_release_fn release) {
        if (data != user_data_) release_user_data();
        user_data_ = data;
        release_user_data_ = release;
    }
    void *user_data() const { return user_data_; }
    void release_user_data() noexcept;

    // The plugin's between_requests(): see plugin.h. Only streams have requests to be between.
    virtual void mark_between_requests() {}

    // The plugin's stopping(): the server has begun to stop, so a stream should end after
    // the request at hand (see plugin.h); not for a connection that will move instead.
    virtual bool stopping() const { return waiter_->stopping(); }

    // The plugin's set_handoff_state and handoff_state (plugin.h, ABI 1.2).
    virtual bool set_handoff_state(const void *, std::size_t) {
        return fail("set_handoff_state: a datagram has no connection to hand over");
    }
    // What the previous generation attached; none for a connection accepted here.
    virtual const std::optional<std::string> &received_handoff_state() const {
        static const std::optional<std::string> none;
        return none;
    }
    // The connection moved to another worker: it is only closed here.
    virtual bool handed_off() const { return false; }

    // The connected socket the request owns, or -1 (a datagram replies on its listener's).
    virtual int connection_fd() const { return -1; }

    // A TLS connection's handshake comes first, in the request's own thread, child or
    // fiber (it waits for the peer), and then verify (request_lifecycle.cpp).
    virtual bool awaits_handshake() const { return false; }
    // Runs it to its end within the listener's handshake_timeout: false with last_error set.
    virtual bool handshake() { return true; }
    // After the handshake: what the TLS peer proved and agreed; none for plain requests.
    virtual const TlsPeer *tls_peer() const { return nullptr; }
    // The plugin's peer_identity (plugin.h, ABI 1.5): made on first use, valid for the request.
    virtual const sockhost_peer_identity &peer_identity() { return PeerIdentity::none(); }
    // A Unix stream peer's process credentials (SO_PEERCRED); none elsewhere.
    virtual std::optional<ucred> peer_credentials() { return std::nullopt; }

    // Moves the request to the waiter of the thread or fiber that will run it.
    void set_waiter(IoWaiter &waiter) { waiter_ = &waiter; }
    IoWaiter &waiter() const { return *waiter_; }

    // Its counters and access log line (request_tally.hpp).
    RequestTally &tally() { return tally_; }

    // When each hook began: the lifecycle stamps them, a loop that saw a stall reads them.
    HookTrace &hooks() { return hooks_; }
    const HookTrace &hooks() const { return hooks_; }

    // The slot its hooks are recorded in (request_activity.hpp), or none.
    void set_activity_slot(ActivitySlot *slot) { activity_slot_ = slot; }
    // Around each host call that may wait: the plugin's code gives up control, and has it
    // again (a hook that never comes back is one stuck in plugin code, not in host I/O).
    void host_call_begins() {
        if (activity_slot_ != nullptr) activity_slot_->plugin_since_ms.store(0, std::memory_order_relaxed);
    }
    void host_call_ends() {
        if (activity_slot_ != nullptr) activity_slot_->plugin_since_ms.store(coarse_now_ms(), std::memory_order_relaxed);
    }

protected:
    Request(Transport transport, SocketAddress peer, SocketAddress local, IoWaiter &waiter,
            std::chrono::milliseconds timeout);

    // Reads directly from the source into `buffer`: > 0, 0 at end, -1 with last_error set.
    // `nothing_pending`: no unread input is buffered, so a connection that has answered
    // everything it received counts as idle (closed as end of input when the server stops).
    virtual std::int64_t receive(char *buffer, std::size_t capacity, bool nothing_pending) = 0;
    virtual bool queue_output(const char *data, std::size_t length) = 0;

    bool fail(std::string reason) { return fail(Failure::other, std::move(reason)); }
    bool fail(Failure kind, std::string reason, bool between_requests = false);
    bool has_buffered_input() const { return input_.size() > input_start_; }
    // While fill_input waits, the buffer has room appended for what comes: not input yet.
    std::string_view buffered_input() const {
        return {input_.data() + input_start_, input_filled_ - input_start_};
    }
    // Input received by an earlier owner of the connection, read before anything else.
    void discard_buffered_input() {
        input_.clear();
        input_start_ = 0;
        input_filled_ = 0;
    }
    void preload_input(std::string_view bytes) {
        input_.assign(bytes.begin(), bytes.end());
        input_filled_ = input_.size();
    }
    // The plugin has read bytes since it last said the connection is between requests.
    bool consumed_since_between_requests() const { return consumed_since_between_requests_; }
    void reset_consumed() { consumed_since_between_requests_ = false; }
    // Waits for readiness; on timeout or cancellation sets last_error and returns false.
    // `wake_on_stop`: also end the wait when the server starts to stop (as idle waits do).
    WaitResult wait(int fd, short events, const char *what, bool idle = false, bool wake_on_stop = false);

    IoWaiter *waiter_;

private:
    bool fill_input();

    Transport transport_;
    SocketAddress peer_;
    SocketAddress local_;
    mutable std::string peer_text_;
    mutable std::string local_text_;
    std::chrono::milliseconds timeout_;
    std::chrono::milliseconds deadline_length_{0};
    std::optional<Clock::time_point> deadline_;
    std::string last_error_;
    Failure failure_ = Failure::none;
    Failure last_failure_ = Failure::none;
    bool failed_between_requests_ = false;
    void *user_data_ = nullptr;
    sockhost_release_fn release_user_data_ = nullptr;
    std::string handler_error_;
    ActivitySlot *activity_slot_ = nullptr;
    HookTrace hooks_;
    RequestTally tally_;
    // Bytes received but not yet read (read_line looks ahead for '\n').
    std::vector<char> input_;
    std::size_t input_start_ = 0;
    std::size_t input_filled_ = 0;  // bytes of input_ that are input (see buffered_input)
    bool consumed_since_between_requests_ = false;
};

// A connected stream socket (TCP or Unix), owned by the request.
class StreamRequest final : public Request {
public:
    StreamRequest(UniqueFd connection, Transport transport, SocketAddress peer, SocketAddress local,
                  IoWaiter &waiter, std::chrono::milliseconds timeout);
    ~StreamRequest() override;
    StreamRequest(const StreamRequest &) = delete;
    StreamRequest &operator=(const StreamRequest &) = delete;

    bool flush() override;
    bool complete() override;
    void end_refused() override;
    // Everything received is answered: the next request gets a whole request_deadline.
    void mark_between_requests() override;
    int connection_fd() const override { return connection_.get(); }

    bool stopping() const override;
    bool set_handoff_state(const void *data, std::size_t length) override;
    const std::optional<std::string> &received_handoff_state() const override { return received_handoff_state_; }
    bool handed_off() const override { return handed_off_; }
    // Lets the connection move at a reload (null: it never does).
    void set_handoff(ConnectionHandoff *handoff) { handoff_ = handoff; }
    // A connection handed over by the previous owner: between requests, with the input it
    // had received and not read, and its plugin's state.
    void adopt_handed_over(std::string_view unread, std::string connection_state);
    // Its bytes are TLS records under `context`: a handshake comes before any hook.
    void use_tls(std::shared_ptr<const TlsContext> context) {
        tls_context_ = std::move(context);
        awaiting_handshake_ = true;
    }
    bool awaits_handshake() const override { return awaiting_handshake_; }
    bool handshake() override;
    const TlsPeer *tls_peer() const override { return tls_peer_ ? &*tls_peer_ : nullptr; }
    const sockhost_peer_identity &peer_identity() override;
    std::optional<ucred> peer_credentials() override;

protected:
    std::int64_t receive(char *buffer, std::size_t capacity, bool nothing_pending) override;
    bool queue_output(const char *data, std::size_t length) override;

private:
    // One attempt to move bytes without waiting: a count (0 at end of input), or -1 with
    // `wait_events` set to what to wait for, or -1 with `failure` set.
    struct Attempt {
        std::int64_t count = -1;
        short wait_events = 0;
        Failure failure = Failure::none;
        std::string error;
    };
    static Attempt attempt_of(const TlsConnection::Step &step);
    Attempt try_receive(char *buffer, std::size_t capacity);
    Attempt try_send(const char *data, std::size_t length);
    // A TLS connection's close_notify before its FIN (within `timeout`; not after a failed handshake).
    void send_close_notify();
    bool send_all(const char *data, std::size_t length);
    // After an idle wait saw the server stopping: true if a request arrives within the grace.
    bool wait_out_idle_stop_grace();
    // A wait for the peer now would be between two requests (see stream_request.cpp).
    bool idle_between_requests(bool nothing_pending) const;
    // At a reload's drain: whether this connection may move now, and the move.
    bool may_move() const;
    enum class Move { moved, stays, end };
    Move move_to_next_generation();
    bool unread_input_pending();
    void linger();
    // Reads and drops input until end of input, an error, `kLingerBytes`, or (waiting until
    // `until`; none: not at all) the client has sent nothing more.
    void drop_input(std::optional<Clock::time_point> until);

    UniqueFd connection_;
    std::vector<char> output_;
    // A connection that has received nothing, or whose plugin said everything received
    // is answered, is idle: a stopping server ends its wait for more (see plugin.h).
    bool received_anything_ = false;
    bool between_requests_ = false;
    bool saw_end_of_input_ = false;
    // Set when an idle wait first sees the server stopping: the connection closes then,
    // unless a request arrives first (see kIdleStopGrace in request.cpp).
    std::optional<Clock::time_point> idle_close_at_;
    ConnectionHandoff *handoff_ = nullptr;
    bool handed_off_ = false;
    bool move_declined_ = false;  // a stop, not a reload, or the next generation said no
    std::string handoff_state_;   // set_handoff_state's, offered with the connection
    std::optional<std::string> received_handoff_state_;
    std::shared_ptr<const TlsContext> tls_context_;  // none: plain bytes
    std::optional<TlsConnection> tls_;               // from the handshake's start
    std::optional<TlsPeer> tls_peer_;                // once the handshake succeeded
    bool awaiting_handshake_ = false;
    std::optional<std::optional<ucred>> credentials_;  // asked once
    std::unique_ptr<PeerIdentity> identity_;
};

// One datagram received on a listener socket (not owned), and the reply to it.
class DatagramRequest final : public Request {
public:
    DatagramRequest(int socket_fd, std::vector<char> datagram, Transport transport, SocketAddress peer,
                    SocketAddress local, IoWaiter &waiter, std::chrono::milliseconds timeout,
                    std::size_t max_reply_size);

    bool flush() override { return true; }  // the reply is one datagram, sent at completion
    bool complete() override;

protected:
    std::int64_t receive(char *buffer, std::size_t capacity, bool nothing_pending) override;
    bool queue_output(const char *data, std::size_t length) override;

private:
    int socket_fd_;
    std::vector<char> datagram_;
    bool delivered_ = false;
    std::vector<char> reply_;
    std::size_t max_reply_size_;
};

}  // namespace sockhost
