// Which of a request's hooks ran when: each hook's start, stamped on the coarse monotonic
// clock (a vDSO read of a few nanoseconds, to the kernel's tick, a few milliseconds). A
// loop that measured a long run of plugin code (modes/stall_watch.hpp) asks it which hook
// took most of that run, without a precise clock read at every hook.
#pragma once

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/worker_activity.hpp>

#include <array>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace sockhost {

class HookTrace {
public:

    // Returns the time it stamped.
    Clock::time_point enter(Hook hook) { return started_[static_cast<std::size_t>(hook)] = sockhost::coarse_now(); }

    // The hook that spent the most of [start, end] running, each counted from its start to
    // the next one's (or `end`); none if no hook had started by `end`.
    std::optional<Hook> longest_within(Clock::time_point start, Clock::time_point end) const;

private:
    static constexpr Clock::time_point kNotStarted = Clock::time_point::min();
    // By Hook: none and verify are never stamped (verify runs on the loop, timed there).
    std::array<Clock::time_point, 5> started_{kNotStarted, kNotStarted, kNotStarted, kNotStarted, kNotStarted};
};

inline std::optional<Hook> HookTrace::longest_within(Clock::time_point start, Clock::time_point end) const {
    std::optional<Hook> longest;
    Clock::duration longest_time = Clock::duration::min();
    for (std::size_t index = 0; index < started_.size(); ++index) {
        if (started_[index] == kNotStarted) continue;
        Clock::time_point until = end;
        for (std::size_t next = index + 1; next < started_.size(); ++next)
            if (started_[next] != kNotStarted) {
                until = started_[next];
                break;
            }
        const auto ran = std::min(until, end) - std::max(started_[index], start);
        if (ran > longest_time) {
            longest_time = ran;
            longest = static_cast<Hook>(index);
        }
    }
    return longest;
}

}  // namespace sockhost
