#include <sockhost/host/worker/io_waiter.hpp>

#include <poll.h>

#include <cerrno>

namespace sockhost {

namespace {

// Polls the cancel fd, `fd` (if >= 0) and the stop fd (if >= 0), retrying on EINTR with
// the time left. A negative fd is ignored by poll(2).
WaitResult poll_until(int cancel_fd, int fd, short events, int stop_fd, std::optional<Clock::time_point> deadline) {
    pollfd watched[3] = {{cancel_fd, POLLIN, 0}, {fd, events, 0}, {stop_fd, POLLIN, 0}};
    for (;;) {
        const int ready = ::poll(watched, 3, poll_timeout_until(deadline));
        if (ready < 0) {
            if (errno == EINTR) continue;
            return WaitResult::cancelled;  // EFAULT/ENOMEM: nothing sensible left but to stop
        }
        if (watched[0].revents != 0) return WaitResult::cancelled;
        if (watched[1].revents != 0) return WaitResult::ready;
        if (watched[2].revents != 0) return WaitResult::stopping;
        if (deadline && Clock::now() >= *deadline) return WaitResult::timed_out;
    }
}

}  // namespace

WaitResult BlockingWaiter::wait_for(int fd, short events, std::optional<Clock::time_point> deadline, bool idle) {
    return poll_until(cancel_fd_, fd, events, idle ? stop_fd_ : -1, deadline);
}

WaitResult BlockingWaiter::sleep_until(Clock::time_point wake_time) {
    const WaitResult result = poll_until(cancel_fd_, -1, 0, -1, wake_time);
    return result == WaitResult::timed_out ? WaitResult::ready : result;
}

bool BlockingWaiter::stopping() const {
    pollfd stop{stop_fd_, POLLIN, 0};
    for (;;) {
        const int ready = ::poll(&stop, 1, 0);
        if (ready >= 0) return ready > 0;
        if (errno != EINTR) return false;  // cannot tell: serve on as if not stopping
    }
}

}  // namespace sockhost
