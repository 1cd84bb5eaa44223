#include <sockhost/host/io_waiter.hpp>

#include <poll.h>

#include <cerrno>

namespace sockhost {

namespace {

int milliseconds_until(std::optional<Clock::time_point> deadline) {
    if (!deadline) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Polls `fd` (if >= 0) and the cancel fd, retrying on EINTR with the time left.
WaitResult poll_with_cancel(int fd, short events, int cancel_fd, std::optional<Clock::time_point> deadline) {
    pollfd watched[2] = {{cancel_fd, POLLIN, 0}, {fd, events, 0}};
    const nfds_t count = fd >= 0 ? 2 : 1;
    for (;;) {
        const int ready = ::poll(watched, count, milliseconds_until(deadline));
        if (ready < 0) {
            if (errno == EINTR) continue;
            return WaitResult::cancelled;  // EFAULT/ENOMEM: nothing sensible left but to stop
        }
        if (watched[0].revents != 0) return WaitResult::cancelled;
        if (count == 2 && watched[1].revents != 0) return WaitResult::ready;
        if (deadline && Clock::now() >= *deadline) return WaitResult::timed_out;
    }
}

}  // namespace

WaitResult BlockingWaiter::wait_for(int fd, short events, std::optional<Clock::time_point> deadline) {
    return poll_with_cancel(fd, events, cancel_fd_, deadline);
}

WaitResult BlockingWaiter::sleep_until(Clock::time_point wake_time) {
    const WaitResult result = poll_with_cancel(-1, 0, cancel_fd_, wake_time);
    return result == WaitResult::timed_out ? WaitResult::ready : result;
}

}  // namespace sockhost
