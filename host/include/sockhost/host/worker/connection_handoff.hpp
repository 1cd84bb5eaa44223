// One listener's side of the connection handoff in a worker (shared/handoff_channel.hpp):
// its requests offer their idle connections when a reload drains it, and it queues the
// connections handed to it by an older generation until its loop takes them.
//
//   old worker                       supervisor                      new worker
//   request idle at the drain --offer(conn, reply pipe)--> route --take--> queue --loop takes:
//   waits on the reply pipe <------------------- 'T' ------------------------------ writes 'T'
//   sees end of input, closes its copy (never shutdown: the socket lives on over there)
//
// A connection handed over with no unread bytes is parked at once: the taker answers 'T',
// watches it in an epoll set of its main thread, and costs it no request, fiber, thread
// or plugin call until its client sends a byte; then it is queued for the loop like any
// handed-over connection. A connection still parked when this generation drains in turn
// is offered on by the main thread, up to HandoffChannel::kMaxBatch to a packet
// (parked_handover.hpp): an idle client costs a reload a few microseconds of CPU, not a
// request (docs/benchmarks.md, "Reload handoff"). A parked connection ends at its
// listener's `timeout`, counted from its takeover.
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
#include <unordered_map>
#include <vector>

namespace sockhost {

struct ListenerCounters;

// A connection an older generation (or a replaced worker) handed over.
struct HandedOverConnection {
    UniqueFd connection;
    UniqueFd reply;  // write end of the offerer's reply pipe; none once this worker answered
    std::string unread;
    std::string connection_state;
    bool held = false;  // this worker's already (it was parked): counted open here
};

// A connection this worker took over and holds without a request.
struct ParkedConnection {
    UniqueFd connection;
    std::string connection_state;  // what it came with: it goes on with it
    Clock::time_point since{};     // parked then: the listener's `timeout` counts from there
};

class ConnectionHandoff {
public:
    // `channel`: the worker's handoff channel (may be closed: nothing moves); `enabled`:
    // the plugin opted in and the listener's `handoff` option is on; `idle_timeout`: the
    // listener's `timeout`, after which a parked connection is closed (0: never), as an
    // idle request's wait for its next byte ends.
    static Result<std::unique_ptr<ConnectionHandoff>> create(const HandoffChannel &channel, int listener_index,
                                                             bool enabled,
                                                             std::chrono::milliseconds idle_timeout = {});
    ~ConnectionHandoff();
    ConnectionHandoff(const ConnectionHandoff &) = delete;
    ConnectionHandoff &operator=(const ConnectionHandoff &) = delete;

    // Connections of this listener may be offered when a reload drains it.
    bool enabled() const { return enabled_; }
    int listener_index() const { return listener_index_; }

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

    // Main thread: a connection handed to this listener. One with unread bytes is queued
    // for the loop (take_handed_over), its offer answered when the loop takes it; one
    // without is answered at once and parked until its client sends something.
    void queue(HandedOverConnection connection);
    // Main thread: a batch's connections, all taken now (the caller answers the batch);
    // false when stopping (none is taken: dropping them answers their offerer).
    bool park_batch(std::vector<ParkedConnection> connections);
    // Main thread: the epoll set of the parked connections, readable when one of them is,
    // and what does it: each readable one goes to the loop's queue.
    int parked_fd() const { return parked_epoll_.get(); }
    void wake_parked();
    std::size_t parked() const;
    // Main thread: when the longest-parked connection reaches the listener's `timeout`, and
    // closing those that did (their clients see end of input, as at an idle timeout).
    std::optional<Clock::time_point> next_idle_expiry();
    void close_idle_expired(Clock::time_point now);
    // Main thread, at a stop, after refuse_from_now: every connection this worker holds
    // without a request (parked, or queued after its first byte), to be offered on; the
    // parked set is closed. They stay counted open until forget() or close_held().
    std::vector<ParkedConnection> take_held();
    // Held connections that left (handed over, closed, or taken by the loop: its request
    // counts it from then) come off connections_open.
    void forget(std::size_t count);
    // Main thread, held from receiving a take message until its descriptors are queued (or
    // closed): no request child is forked meanwhile, since one forked while they sit only
    // in the message would keep copies nobody closes (the queues are emptied in a child).
    [[nodiscard]] static std::unique_lock<std::mutex> hold_off_forks();
    // The loop: the next queued connection, if any. Readable while one is queued.
    int queue_fd() const { return queue_fd_.get(); }
    std::optional<HandedOverConnection> take_handed_over();
    std::size_t queued() const { return queued_count_.load(std::memory_order_relaxed); }
    // At a stop: the connections not taken yet go back to their offerers (closing our
    // copies answers them), and none is queued from now on. What this worker took over and
    // holds without a request stays held: see take_held and close_held.
    void refuse_from_now();
    // At a stop: closes what this worker holds without a request (its clients see end of
    // input, as an idle connection's do at a stop).
    void close_held();

private:
    ConnectionHandoff(const HandoffChannel &channel, int listener_index, bool enabled, UniqueFd reload_fd,
                      UniqueFd queue_fd, UniqueFd parked_epoll, std::chrono::milliseconds idle_timeout);
    void park(ParkedConnection connection);  // under mutex_
    void push_queued(HandedOverConnection connection);  // under mutex_: and counts it on queue_fd_
    void count_open(std::int64_t change) const;

    // A forking mode's request child must not keep the connections queued in its parent
    // (nor their reply sockets): their FIN, or their offerer's end of file, would wait for
    // the child. pthread_atfork handlers close them in every child (connection_handoff.cpp).
    friend struct ForkSafety;

    const HandoffChannel &channel_;
    int listener_index_;
    bool enabled_;
    UniqueFd reload_fd_;  // eventfd: set once by begin_reload_drain
    UniqueFd queue_fd_;   // eventfd (semaphore): one count per queued connection
    UniqueFd parked_epoll_;
    ListenerCounters *counters_;  // a parked connection is open here; may be null
    mutable std::mutex mutex_;
    std::deque<HandedOverConnection> queued_;
    std::unordered_map<int, ParkedConnection> parked_;  // by descriptor; in parked_epoll_ until a stop
    // Parked connections in the order they were parked (one timeout for all: the order of
    // their expiry); an entry whose descriptor left, or was parked again since, is skipped.
    std::deque<std::pair<Clock::time_point, int>> expiry_;
    std::chrono::milliseconds idle_timeout_;
    // How many are queued, read without the lock: the loop asks before every accept, and
    // almost always none is.
    std::atomic<std::size_t> queued_count_{0};
    bool refusing_ = false;  // under mutex_
};

}  // namespace sockhost
