#include <sockhost/host/worker/modes/concurrency_mode.hpp>

#include <poll.h>

namespace sockhost {

Result<void> BlockingMode::serve(RequestIntake &intake) {
    std::vector<pollfd> watched;
    std::vector<int> wake_fds;
    for (;;) {
        collect_finished();
        watched.clear();
        wake_fds.clear();
        watched.push_back({intake.stop_fd(), POLLIN, 0});
        // At the mode's cap the listener is not polled: clients wait in the backlog.
        const bool accepting = !at_capacity();
        if (accepting) watched.push_back({intake.listener_fd(), POLLIN, 0});
        // Connections handed over by another worker wait beside the backlog.
        const bool handed_over = accepting && intake.handed_over_fd() >= 0;
        if (handed_over) watched.push_back({intake.handed_over_fd(), POLLIN, 0});
        append_wake_fds(wake_fds);
        for (const int fd : wake_fds) watched.push_back({fd, POLLIN, 0});

        if (::poll(watched.data(), watched.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return fail_errno(intake.listener_text() + ": poll");
        }
        // The stop fd stays set: idle connections' waits end on it too.
        if (watched[0].revents != 0) return {};
        if (!accepting || (watched[1].revents == 0 && (!handed_over || watched[2].revents == 0))) continue;
        if (stall_watch_ != nullptr) stall_watch_->restart();
        if (take_batch(intake, kTakeBatch, stall_watch_) == BatchEnd::exhausted) {
            // Accepting again at once would spin; wait a little (or for the stop).
            pollfd stop{intake.stop_fd(), POLLIN, 0};
            ::poll(&stop, 1, 100);
        }
    }
}

}  // namespace sockhost
