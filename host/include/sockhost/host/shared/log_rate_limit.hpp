// Repeated log lines of one kind (a listener's truncated datagrams, a plugin's failed
// hooks): at most kLinesPerSecond are written in each second, the rest are counted, and
// the next line written says how many were left out. A flood of bad datagrams or resets
// costs a few lines a second instead of one line per packet. Lock-free: it is used from
// a listener's request threads at once, and from forked children (each its own copy).
#pragma once

#include <sockhost/host/shared/clock.hpp>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

namespace sockhost {

class LogRateLimit {
public:
    static constexpr std::uint32_t kLinesPerSecond = 10;

    // Whether to write a line of this kind now; if so, `note` is what to append to it
    // ("" or "; 37 more like it in the last second were not logged").
    bool admit(std::string &note, Clock::time_point now = Clock::now());

private:
    std::atomic<std::int64_t> window_start_ms_{std::numeric_limits<std::int64_t>::min() / 2};
    std::atomic<std::uint32_t> in_window_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace sockhost
