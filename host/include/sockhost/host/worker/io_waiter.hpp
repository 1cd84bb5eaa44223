// How a request waits for its socket or a timer. The blocking modes poll the socket on
// the calling thread; the event mode suspends the request's fiber instead. Every wait
// also ends when the server cancels its requests (the stop deadline has passed), and an
// idle wait (a connection between requests) ends as soon as the server starts to stop.
#pragma once

#include <sockhost/host/shared/clock.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace sockhost {

// Longer timeouts and sleeps are cut to this, so that now() + wait cannot overflow.
inline constexpr std::chrono::milliseconds kLongestWait{365LL * 24 * 3600 * 1000};

// A plugin's wait in milliseconds (any uint64_t, e.g. UINT64_MAX for "forever"), bounded.
inline std::chrono::milliseconds bounded_wait(std::uint64_t milliseconds) {
    return std::chrono::milliseconds(
        std::min<std::uint64_t>(milliseconds, static_cast<std::uint64_t>(kLongestWait.count())));
}

enum class WaitResult { ready, timed_out, cancelled, stopping };

class IoWaiter {
public:
    virtual ~IoWaiter() = default;
    // Waits until `fd` has `events` (POLLIN/POLLOUT), the deadline passes, or cancellation;
    // when `idle`, also until the server starts to stop.
    virtual WaitResult wait_for(int fd, short events, std::optional<Clock::time_point> deadline, bool idle) = 0;
    // Sleeps; returns cancelled if the server cancels its requests meanwhile.
    virtual WaitResult sleep_until(Clock::time_point wake_time) = 0;
    // True once the server has begun to stop (its stop eventfd is set); never false again.
    // Asked by the plugin's stopping() (plugin.h), about once per response: it must not wait.
    virtual bool stopping() const = 0;
    // A stream request is between two requests. A waiter that runs many connections on one
    // thread may let the others run first; a thread of its own needs nothing (the kernel
    // shares the CPU).
    virtual void between_requests() {}
    // A deep call (a TLS handshake) has returned: a waiter that runs the request on a small
    // stack of its own may give the pages it touched back; a thread's stack needs nothing.
    virtual void release_unused_stack() {}
};

// Waits with poll(2) on the socket and the server's cancel and stop eventfds.
class BlockingWaiter final : public IoWaiter {
public:
    BlockingWaiter(int cancel_fd, int stop_fd) : cancel_fd_(cancel_fd), stop_fd_(stop_fd) {}
    WaitResult wait_for(int fd, short events, std::optional<Clock::time_point> deadline, bool idle) override;
    WaitResult sleep_until(Clock::time_point wake_time) override;
    // A zero-timeout poll of the stop fd, not a flag: a forking mode's child shares the
    // eventfd with the server but not its memory, so only the fd sees a later shutdown().
    bool stopping() const override;

private:
    int cancel_fd_;
    int stop_fd_;
};

}  // namespace sockhost
