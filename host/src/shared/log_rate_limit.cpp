#include <sockhost/host/shared/log_rate_limit.hpp>

namespace sockhost {

bool LogRateLimit::admit(std::string &note, Clock::time_point now) {
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::int64_t start = window_start_ms_.load(std::memory_order_relaxed);
    // One thread opens the new window; the others count in it.
    if (now_ms - start >= 1000 && window_start_ms_.compare_exchange_strong(start, now_ms, std::memory_order_relaxed))
        in_window_.store(0, std::memory_order_relaxed);
    if (in_window_.fetch_add(1, std::memory_order_relaxed) >= kLinesPerSecond) {
        suppressed_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    const std::uint64_t left_out = suppressed_.exchange(0, std::memory_order_relaxed);
    note = left_out == 0 ? std::string()
                         : "; " + std::to_string(left_out) + " more like it since the last one logged were not logged";
    return true;
}

}  // namespace sockhost
