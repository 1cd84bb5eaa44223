// The event mode's loop, in the manner of Redis' ae.c: one epoll set, one timer heap and a
// queue of fibers ready to run, all on one thread.
//
// Sockets are registered once, edge-triggered, for input (output is added the first time a
// write has to wait), and a request always tries its read or write first: it waits
// (FiberWaiter::wait_for suspends its fiber) only after EAGAIN, so no edge can be missed.
// Timers are per waiting fiber, in a binary heap indexed from each waiter, so a wait that
// ends early removes its timer in O(log n), and the heap's earliest deadline is
// epoll_wait's timeout: no timerfd, no system call per wait.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/worker/modes/fiber.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/epoll.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace sockhost {

class FiberWaiter;

// A descriptor in the epoll set, and the fibers waiting for it. epoll's data.ptr points
// here. A connection has one waiter at most; a datagram listener may have several (each
// request replies on it).
struct IoSlot {
    int fd = -1;
    std::uint32_t registered = 0;  // the directions in the epoll set
    FiberWaiter *first_waiter = nullptr;
};

class EventLoop {
public:
    static Result<EventLoop> create();

    // Adds `fd` for `events` (EPOLLIN, EPOLLOUT; always edge-triggered) with `slot`.
    Result<void> add(int fd, std::uint32_t events, IoSlot &slot);
    // Adds directions to a registered slot. Output is registered only once a request has
    // had to wait to send: a socket registered for it gets an edge each time the peer
    // frees buffer space (for Unix and UDP sockets, after every send), which costs wake-ups.
    bool widen(IoSlot &slot, std::uint32_t events);
    void remove(int fd);

    // Waits for descriptors until the earliest of the timers and `extra_deadline`, or not
    // at all when fibers are ready. Returns the ready slots' events; expired timers wake
    // their fibers (timed_out) on return.
    std::span<const epoll_event> poll(std::optional<Clock::time_point> extra_deadline);

    // Wakes the fibers waiting on `slot` for any of `events` (errors and hang-ups wake all).
    void wake_waiters(IoSlot &slot, std::uint32_t events);

    // From now on every wait fails at once (cancelled), and those in progress end.
    void cancel_all();
    // From now on idle waits (connections between requests) end (stopping) at once. Those
    // waiting now are let go a few per round (take_ready): thousands of idle connections
    // that end (or move to the next generation) at once would otherwise make one round of
    // the loop last as long as all of their work, and every request still running wait.
    void stop_idle_waits();
    bool cancelled() const { return cancelled_; }
    bool stopping() const { return stopping_; }

    // Runs `waiter`'s fiber on the next round (a request that starts).
    void schedule(FiberWaiter &waiter) { ready_.push_back(&waiter); }

    // The fibers woken since the last call, in the order they were woken, then at most
    // kStoppedPerRound of the idle ones a stop let go, oldest first.
    void take_ready(std::vector<FiberWaiter *> &out);
    static constexpr std::size_t kStoppedPerRound = 8;

    // A slot the loop registered for a descriptor requests may also wait on (a datagram
    // listener, for replies), found by FiberWaiter::wait_for.
    void set_shared_slot(IoSlot *slot) { shared_slot_ = slot; }

private:
    friend class FiberWaiter;

    explicit EventLoop(UniqueFd epoll_fd) : epoll_fd_(std::move(epoll_fd)) { events_.resize(256); }

    void begin_wait(FiberWaiter &waiter, IoSlot *slot, std::optional<Clock::time_point> deadline);
    void wake(FiberWaiter &waiter, WaitResult result);
    void expire_timers(Clock::time_point now);

    void heap_push(FiberWaiter &waiter);
    void heap_erase(FiberWaiter &waiter);
    void sift_up(std::size_t index);
    void sift_down(std::size_t index);
    void heap_place(std::size_t index, FiberWaiter *waiter);

    UniqueFd epoll_fd_;
    std::vector<epoll_event> events_;
    std::vector<FiberWaiter *> timers_;  // binary min-heap on deadline
    std::vector<FiberWaiter *> ready_;
    std::deque<FiberWaiter *> stopped_;  // idle waits a stop ended, not yet run
    FiberWaiter *first_waiting_ = nullptr;  // every fiber in a wait, for cancel/stop
    IoSlot *shared_slot_ = nullptr;
    bool cancelled_ = false;
    bool stopping_ = false;
};

// The IoWaiter of one fiber: a wait registers it with the loop and suspends the fiber; the
// loop wakes it with the wait's result. `connection` is the slot of the socket this fiber's
// current request owns (registered by the event mode when the request starts).
class FiberWaiter : public IoWaiter {
public:
    FiberWaiter(EventLoop &loop, Fiber &fiber) : loop_(loop), fiber_(fiber) {}

    WaitResult wait_for(int fd, short events, std::optional<Clock::time_point> deadline, bool idle) override;
    WaitResult sleep_until(Clock::time_point wake_time) override;
    // The loop has seen the server's stop eventfd (it polls it every round).
    bool stopping() const override { return loop_.stopping(); }
    // A connection whose next request is always there when the last one is answered (a
    // pipelining client, or one on another core) never waits: without a turn it would keep
    // the loop and every other connection's request waits for it. After
    // kRequestsPerTurn requests run without a wait, the fiber goes to the back of the queue.
    void between_requests() override;
    static constexpr unsigned kRequestsPerTurn = 4;
    void release_unused_stack() override { fiber_.release_unused_stack(); }

    IoSlot &connection() { return connection_; }
    Fiber &fiber() { return fiber_; }

private:
    friend class EventLoop;
    static constexpr std::size_t kNoTimer = static_cast<std::size_t>(-1);

    WaitResult suspend_in_wait(IoSlot *slot, std::uint32_t events, std::optional<Clock::time_point> deadline,
                               bool idle);

    EventLoop &loop_;
    Fiber &fiber_;
    IoSlot connection_;
    // The wait in progress.
    bool waiting_ = false;
    bool idle_ = false;
    std::uint32_t events_ = 0;
    IoSlot *slot_ = nullptr;
    FiberWaiter *next_in_slot_ = nullptr;
    FiberWaiter *previous_in_slot_ = nullptr;
    FiberWaiter *next_waiting_ = nullptr;
    FiberWaiter *previous_waiting_ = nullptr;
    Clock::time_point deadline_{};
    std::size_t timer_index_ = kNoTimer;
    WaitResult result_ = WaitResult::ready;
    unsigned requests_without_wait_ = 0;
};

}  // namespace sockhost
