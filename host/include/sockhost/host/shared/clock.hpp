// The host's one clock, and the one conversion of a deadline into a poll(2) or
// epoll_wait(2) timeout.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace sockhost {

using Clock = std::chrono::steady_clock;

// The same clock to the kernel's tick (a few milliseconds), for a stamp on a hot path:
// a vDSO read of a few nanoseconds. CLOCK_MONOTONIC_COARSE shares steady_clock's origin,
// and every process reads the same one.
inline Clock::time_point coarse_now() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return Clock::time_point(std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec));
}

// Milliseconds from now until `deadline`, rounded up (a wait never ends before it), 0 if
// it has passed, -1 (wait without bound) if there is none; never more than 2^30.
inline int poll_timeout_until(std::optional<Clock::time_point> deadline) {
    if (!deadline) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1LL << 30));
}

// "5 s", or "250 ms" where it is not whole seconds: durations in messages.
inline std::string duration_text(std::chrono::milliseconds duration) {
    const auto millis = duration.count();
    return millis % 1000 == 0 ? std::to_string(millis / 1000) + " s" : std::to_string(millis) + " ms";
}

}  // namespace sockhost
