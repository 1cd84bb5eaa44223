#include <sockhost/host/worker/modes/concurrency_mode.hpp>

#include <poll.h>

#include <algorithm>

namespace sockhost {

ConcurrencyMode::BatchEnd ConcurrencyMode::take_batch(RequestIntake &intake, int limit, StallWatch *stall_watch) {
    for (int taken_count = 0; taken_count < limit; ++taken_count) {
        if (at_capacity()) return BatchEnd::full;
        auto taken = intake.take();
        if (stall_watch != nullptr) stall_watch->lap_verify(intake);
        switch (taken.outcome) {
        case RequestIntake::Outcome::admitted: dispatch(std::move(taken.request)); break;
        case RequestIntake::Outcome::dropped: break;
        case RequestIntake::Outcome::drained: return BatchEnd::drained;
        case RequestIntake::Outcome::exhausted: return BatchEnd::exhausted;
        }
    }
    return BatchEnd::full;
}

bool ConcurrencyMode::wait_idle(Clock::time_point deadline) {
    std::vector<int> wake_fds;
    std::vector<pollfd> watched;
    for (;;) {
        collect_finished();
        if (in_flight() == 0) return true;
        const int left = poll_timeout_until(deadline);
        if (left == 0) return false;
        wake_fds.clear();
        append_wake_fds(wake_fds);
        watched.clear();
        for (const int fd : wake_fds) watched.push_back({fd, POLLIN, 0});
        // Bounded, in case a request ends without making a wake fd readable.
        ::poll(watched.data(), watched.size(), std::min(left, 1000));
    }
}

}  // namespace sockhost
