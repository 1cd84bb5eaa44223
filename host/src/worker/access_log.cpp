#include <sockhost/host/worker/access_log.hpp>

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/log.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace sockhost {

namespace {

// RFC 3339 in UTC with milliseconds. By hand: GCC 12's <format> has no chrono support,
// and two calls of the C library do it. The text up to the second is kept per thread for
// the second it names: it changes once a second, lines come far more often.
void append_rfc3339_utc(std::string &out, std::int64_t now_ms) {
    thread_local std::int64_t cached_second = -1;
    thread_local char cached[64];  // room for any int fields, as the compiler checks
    const std::int64_t second = now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000;
    if (second != cached_second) {
        const auto seconds = static_cast<std::time_t>(second);
        std::tm utc{};
        ::gmtime_r(&seconds, &utc);
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", utc.tm_year + 1900, utc.tm_mon + 1,
                      utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
        cached_second = second;
    }
    const auto millis = static_cast<int>(now_ms - second * 1000);
    const char fraction[] = {'.', static_cast<char>('0' + millis / 100), static_cast<char>('0' + millis / 10 % 10),
                             static_cast<char>('0' + millis % 10), 'Z'};
    out += cached;
    out.append(fraction, sizeof fraction);
}

// Appends `text` as a JSON string. Addresses, listeners and plugin names are plain ASCII
// nearly always and are copied as they are; anything else (a quote, a control byte, a Unix
// peer's path that is not UTF-8) is escaped by nlohmann_json, invalid UTF-8 becoming
// U+FFFD, never an error. Building the whole line as a json value cost more than a
// request (allocations for every member).
void append_json_string(std::string &out, std::string_view text) {
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
        out += '"';
        out += text;
        out += '"';
        return;
    }
    out += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename Number>
void append_number(std::string &out, Number value) {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;  // shortest round trip
    out.append(text, end);
}

// How many times this process is a fork() child of the one before (pthread_atfork): the
// log's owner is the process that opened it, and asking getpid() at every line is a
// system call.
unsigned fork_depth = 0;

unsigned current_fork_depth() {
    static std::once_flag registered;
    std::call_once(registered, [] { ::pthread_atfork(nullptr, nullptr, [] { ++fork_depth; }); });
    return fork_depth;
}

}  // namespace

std::string format_access_log_line(const AccessLogEntry &entry, std::int64_t now_ms) {
    std::string line;
    line.reserve(192);
    line += "{\"time\":\"";
    append_rfc3339_utc(line, now_ms);
    line += "\",\"peer\":";
    append_json_string(line, format_address(*entry.peer));
    line += ",\"listener\":";
    append_json_string(line, *entry.listener);
    line += ",\"plugin\":";
    append_json_string(line, *entry.plugin);
    line += ",\"outcome\":";
    append_json_string(line, entry.outcome);
    line += ",\"duration\":";
    append_number(line, entry.duration_seconds);
    line += ",\"received\":";
    append_number(line, entry.received);
    line += ",\"sent\":";
    append_number(line, entry.sent);
    line += "}\n";
    return line;
}

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string &path, const std::string &listener) {
    // O_NOFOLLOW: a worker started as root must not write through a link someone planted.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!fd) {
        const int error = errno;
        return fail("listener " + listener + ": access_log '" + path + "': " +
                    (error == ELOOP ? std::string("is a symbolic link, which is not followed") : std::strerror(error)));
    }
    try {
        return std::unique_ptr<AccessLog>(new AccessLog(std::move(fd), path, listener));
    } catch (const std::system_error &error) {
        return fail("listener " + listener + ": access_log '" + path + "': cannot start its writer thread: " +
                    error.what());
    }
}

AccessLog::AccessLog(UniqueFd fd, std::string path, std::string listener)
    : fd_(std::move(fd)), path_(std::move(path)), listener_(std::move(listener)), owner_fork_depth_(current_fork_depth()),
      writer_([this] { write_queued(); }) {}

AccessLog::~AccessLog() {
    if (current_fork_depth() != owner_fork_depth_) {  // a request child that exits through destructors
        writer_.detach();
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    queued_.notify_one();
    writer_.join();
}

void AccessLog::append(std::string line) {
    if (current_fork_depth() != owner_fork_depth_) {  // a forked request child: no writer thread here
        write_line(line);
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        if (queue_.size() < kQueuedLines) {
            queue_.push_back(std::move(line));
            // The writer waits for a first line, then gathers for kGatherInterval: waking it
            // for every line would cost a futex call and a switch per request.
            if (queue_.size() == 1 || queue_.size() == kWakeWriterAt) queued_.notify_one();
            return;
        }
    }
    const std::uint64_t dropped = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (std::string note; drop_log_.admit(note))
        log_warning("listener " + listener_ + ": access_log '" + path_ + "' cannot keep up; " +
                    std::to_string(dropped) + " line(s) dropped so far" + note);
}

void AccessLog::write_queued() {
    std::deque<std::string> batch;
    std::unique_lock lock(mutex_);
    for (;;) {
        queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything is written
        queued_.wait_for(lock, kGatherInterval, [&] { return stopping_ || queue_.size() >= kWakeWriterAt; });
        batch.swap(queue_);
        lock.unlock();
        std::string joined;  // one write for the batch: lines of a burst reach the file together
        for (const auto &line : batch) joined += line;
        batch.clear();
        write_line(joined);
        lock.lock();
    }
}

void AccessLog::write_line(const std::string &text) {
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t count = ::write(fd_.get(), text.data() + written, text.size() - written);
        if (count > 0) {
            written += static_cast<std::size_t>(count);
            continue;
        }
        if (count < 0 && errno == EINTR) continue;
        if (std::string note; write_error_log_.admit(note))
            log_warning("listener " + listener_ + ": access_log '" + path_ + "': " +
                        (count < 0 ? std::strerror(errno) : "nothing written") + note);
        return;
    }
}

}  // namespace sockhost
