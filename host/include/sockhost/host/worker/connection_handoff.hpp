// One listener's side of the connection handoff in a worker (shared/handoff_channel.hpp):
// its requests offer their idle connections when a reload drains it, and it queues the
// connections handed to it by an older generation until its loop takes them.
//
//   old worker                       supervisor                      new worker
//   request idle at the drain --offer(conn, reply pipe)--> route --take--> queue --loop takes:
//   waits on the reply pipe <------------------- 'T' ------------------------------ writes 'T'
//   sees end of input, closes its copy (never shutdown: the socket lives on over there)
#pragma once

#include <sockhost/host/shared/handoff_channel.hpp>
#include <sockhost/host/worker/io_waiter.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sockhost {

// A connection an older generation (or a replaced worker) handed over.
struct HandedOverConnection {
    UniqueFd connection;
    UniqueFd reply;  // write end of the offerer's reply pipe
    std::string unread;
    std::string connection_state;
};

class ConnectionHandoff {
public:
    // `channel`: the worker's handoff channel (may be closed: nothing moves); `enabled`:
    // the plugin opted in and the listener's `handoff` option is on.
    static Result<std::unique_ptr<ConnectionHandoff>> create(const HandoffChannel &channel, int listener_index,
                                                             bool enabled);
    ~ConnectionHandoff();
    ConnectionHandoff(const ConnectionHandoff &) = delete;
    ConnectionHandoff &operator=(const ConnectionHandoff &) = delete;

    // Connections of this listener may be offered when a reload drains it.
    bool enabled() const { return enabled_; }

    // Main thread, on the supervisor's drain, before the server's shutdown(): its idle
    // connections move from now on.
    void begin_reload_drain();
    // From any thread or request child: a drain for a reload has begun (a zero-timeout
    // poll of an eventfd: a forking child shares it with the worker but not its memory).
    bool reload_draining() const;

    enum class Offered { taken, close, not_taken };
    // Offers the connection and waits, through `waiter`, for the answer (see
    // handoff_channel.hpp). not_taken: no worker took it; the caller keeps serving it. A
    // cancelled wait is `taken`: the connection may be queued over there, so it is only
    // closed here, never shut down.
    Offered offer(int connection_fd, std::string_view unread, std::string_view connection_state, IoWaiter &waiter);

    // Main thread: a connection handed to this listener. Its loop takes it (take_handed_over).
    void queue(HandedOverConnection connection);
    // Main thread, held from receiving a take message until its descriptors are queued (or
    // closed): no request child is forked meanwhile, since one forked while they sit only
    // in the message would keep copies nobody closes (the queues are emptied in a child).
    [[nodiscard]] static std::unique_lock<std::mutex> hold_off_forks();
    // The loop: the next queued connection, if any. Readable while one is queued.
    int queue_fd() const { return queue_fd_.get(); }
    std::optional<HandedOverConnection> take_handed_over();
    std::size_t queued() const { return queued_count_.load(std::memory_order_relaxed); }
    // At a stop: the connections not taken yet go back to their offerers (closing our
    // copies answers them), and none is queued from now on.
    void refuse_from_now();

private:
    ConnectionHandoff(const HandoffChannel &channel, int listener_index, bool enabled, UniqueFd reload_fd,
                      UniqueFd queue_fd);

    // A forking mode's request child must not keep the connections queued in its parent
    // (nor their reply sockets): their FIN, or their offerer's end of file, would wait for
    // the child. pthread_atfork handlers close them in every child (connection_handoff.cpp).
    friend struct ForkSafety;

    const HandoffChannel &channel_;
    int listener_index_;
    bool enabled_;
    UniqueFd reload_fd_;  // eventfd: set once by begin_reload_drain
    UniqueFd queue_fd_;   // eventfd (semaphore): one count per queued connection
    std::mutex mutex_;
    std::deque<HandedOverConnection> queued_;
    // How many are queued, read without the lock: the loop asks before every accept, and
    // almost always none is.
    std::atomic<std::size_t> queued_count_{0};
    bool refusing_ = false;  // under mutex_
};

}  // namespace sockhost
