// Where the harness puts lines a plugin logs with no request: to the hook running on the
// same thread, or else to a list the test takes.
#ifndef SOCKHOST_TESTING_LOG_CAPTURE_HPP
#define SOCKHOST_TESTING_LOG_CAPTURE_HPP

#include <sockhost/testing/results.hpp>

#include <mutex>
#include <utility>
#include <vector>

namespace sockhost::sdk::testing {

namespace detail {

// Lines logged with no request go to the hook running on this thread, if any.
inline thread_local std::vector<LogLine> *current_log = nullptr;

inline std::mutex &unattributed_mutex() {
    static std::mutex mutex;
    return mutex;
}
inline std::vector<LogLine> &unattributed_lines() {
    static std::vector<LogLine> lines;
    return lines;
}

class LogTo {
public:
    explicit LogTo(std::vector<LogLine> *sink) noexcept : previous_(current_log) {
        current_log = sink;
    }
    ~LogTo() { current_log = previous_; }
    LogTo(const LogTo &) = delete;
    LogTo &operator=(const LogTo &) = delete;

private:
    std::vector<LogLine> *previous_;
};

}  // namespace detail

// Lines logged with no request from a thread that was not running a hook (e.g. a
// plugin's own thread). Takes them out.
inline std::vector<LogLine> take_unattributed_log() {
    const std::lock_guard lock(detail::unattributed_mutex());
    return std::exchange(detail::unattributed_lines(), {});
}

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_LOG_CAPTURE_HPP
