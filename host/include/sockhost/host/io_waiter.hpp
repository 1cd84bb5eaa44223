// How a request waits for its socket or a timer. The blocking modes poll the socket on
// the calling thread; the event mode suspends the request's fiber instead. Every wait
// also ends when the server cancels its requests (the stop deadline has passed).
#pragma once

#include <chrono>
#include <optional>

namespace sockhost {

using Clock = std::chrono::steady_clock;

enum class WaitResult { ready, timed_out, cancelled };

class IoWaiter {
public:
    virtual ~IoWaiter() = default;
    // Waits until `fd` has `events` (POLLIN/POLLOUT), the deadline passes, or cancellation.
    virtual WaitResult wait_for(int fd, short events, std::optional<Clock::time_point> deadline) = 0;
    // Sleeps; returns cancelled if the server cancels its requests meanwhile.
    virtual WaitResult sleep_until(Clock::time_point wake_time) = 0;
};

// Waits with poll(2) on the socket and the server's cancel eventfd.
class BlockingWaiter final : public IoWaiter {
public:
    explicit BlockingWaiter(int cancel_fd) : cancel_fd_(cancel_fd) {}
    WaitResult wait_for(int fd, short events, std::optional<Clock::time_point> deadline) override;
    WaitResult sleep_until(Clock::time_point wake_time) override;

private:
    int cancel_fd_;
};

}  // namespace sockhost
