// One line per event on stderr: "2026-11-24T04:22:01.123Z sockhost[pid] level: message".
// Each line goes out in a single writev(2), with no lock, so lines from threads and
// forked children never interleave or deadlock.
#pragma once

#include <sockhost/plugin.h>

#include <string_view>

namespace sockhost {

enum class LogLevel { debug = SOCKHOST_LOG_DEBUG, info = SOCKHOST_LOG_INFO, warning = SOCKHOST_LOG_WARNING, error = SOCKHOST_LOG_ERROR };

void set_log_threshold(LogLevel threshold);
void log_line(LogLevel level, std::string_view message);

inline void log_debug(std::string_view message) { log_line(LogLevel::debug, message); }
inline void log_info(std::string_view message) { log_line(LogLevel::info, message); }
inline void log_warning(std::string_view message) { log_line(LogLevel::warning, message); }
inline void log_error(std::string_view message) { log_line(LogLevel::error, message); }

}  // namespace sockhost
