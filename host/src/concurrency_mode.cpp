#include <sockhost/host/concurrency_mode.hpp>

#include <poll.h>

#include <algorithm>

namespace sockhost {

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
