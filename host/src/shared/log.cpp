#include <sockhost/host/shared/log.hpp>

#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace sockhost {

namespace {

std::atomic<LogLevel> threshold{LogLevel::info};

const char *level_name(LogLevel level) {
    switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    }
    return "?";
}

}  // namespace

void set_log_threshold(LogLevel level) { threshold.store(level, std::memory_order_relaxed); }

void log_line(LogLevel level, std::string_view message) {
    if (level < threshold.load(std::memory_order_relaxed)) return;
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char prefix[96];
    const int prefix_length = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ sockhost[%d] %s: ",
                                            utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                                            utc.tm_sec, static_cast<int>(millis), static_cast<int>(getpid()),
                                            level_name(level));
    // Newlines inside a message would break "one line per event": they are cut there.
    const auto newline = message.find('\n');
    if (newline != std::string_view::npos) message = message.substr(0, newline);
    iovec parts[3] = {{prefix, static_cast<size_t>(prefix_length)},
                      {const_cast<char *>(message.data()), message.size()},
                      {const_cast<char *>("\n"), 1}};
    // One writev per line: lines from threads and children stay whole.
    while (writev(STDERR_FILENO, parts, 3) < 0 && errno == EINTR) {
    }
}

}  // namespace sockhost
