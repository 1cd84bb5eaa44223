#include <sockhost/host/worker/modes/concurrency_mode.hpp>

#include <poll.h>

#include <algorithm>

namespace sockhost {

Result<void> ConcurrencyMode::serve(RequestSource &source) {
    std::vector<pollfd> watched;
    std::vector<int> wake_fds;
    for (;;) {
        collect_finished();
        watched.clear();
        wake_fds.clear();
        watched.push_back({source.stop_fd(), POLLIN, 0});
        // At the mode's cap the listener is not polled: clients wait in the backlog.
        const bool accepting = !at_capacity();
        if (accepting) watched.push_back({source.listener_fd(), POLLIN, 0});
        append_wake_fds(wake_fds);
        for (const int fd : wake_fds) watched.push_back({fd, POLLIN, 0});

        if (::poll(watched.data(), watched.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return fail_errno(source.listener_text() + ": poll");
        }
        // The stop fd stays set: idle connections' waits end on it too.
        if (watched[0].revents != 0) return {};
        if (!accepting || watched[1].revents == 0) continue;
        take_requests(source);
    }
}

void ConcurrencyMode::take_requests(RequestSource &source) {
    // Several per poll: under load the queue holds more than one, and a poll(2) per
    // datagram or connection was a third of a UDP echo's system calls.
    for (int taken_count = 0; taken_count < kTakeBatch && !at_capacity(); ++taken_count) {
        auto taken = source.take_request();
        switch (taken.intake) {
        case RequestSource::Intake::admitted: dispatch(std::move(taken.request)); break;
        case RequestSource::Intake::dropped: break;
        case RequestSource::Intake::drained: return;
        case RequestSource::Intake::exhausted: {
            // Accepting again at once would spin; wait a little (or for the stop).
            pollfd stop{source.stop_fd(), POLLIN, 0};
            ::poll(&stop, 1, 100);
            return;
        }
        }
    }
}

bool ConcurrencyMode::wait_idle(Clock::time_point deadline) {
    std::vector<int> wake_fds;
    std::vector<pollfd> watched;
    for (;;) {
        collect_finished();
        if (in_flight() == 0) return true;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        wake_fds.clear();
        append_wake_fds(wake_fds);
        watched.clear();
        for (const int fd : wake_fds) watched.push_back({fd, POLLIN, 0});
        // Bounded, in case a request ends without making a wake fd readable.
        ::poll(watched.data(), watched.size(), static_cast<int>(std::min<long long>(left, 1000)));
    }
}

}  // namespace sockhost
