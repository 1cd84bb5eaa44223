#include <sockhost/host/worker/access_log.hpp>

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/log.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace sockhost {

namespace {

// RFC 3339 in UTC with milliseconds. By hand: GCC 12's <format> has no chrono support,
// and two calls of the C library do it.
std::string rfc3339_utc(std::int64_t now_ms) {
    const std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char text[96];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(now_ms % 1000));
    return text;
}

}  // namespace

std::string format_access_log_line(const AccessLogEntry &entry, std::int64_t now_ms) {
    const nlohmann::ordered_json line = {
        {"time", rfc3339_utc(now_ms)},  {"peer", format_address(*entry.peer)},
        {"listener", *entry.listener},  {"plugin", *entry.plugin},
        {"outcome", entry.outcome},     {"duration", entry.duration_seconds},
        {"received", entry.received},   {"sent", entry.sent},
    };
    // A Unix peer's path is arbitrary bytes: invalid UTF-8 becomes U+FFFD, never an error.
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
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
    : fd_(std::move(fd)), path_(std::move(path)), listener_(std::move(listener)), owner_(::getpid()),
      writer_([this] { write_queued(); }) {}

AccessLog::~AccessLog() {
    if (::getpid() != owner_) {  // a request child that exits through destructors
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
    if (::getpid() != owner_) {  // a forked request child: no writer thread here
        write_line(line);
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        if (queue_.size() < kQueuedLines) {
            queue_.push_back(std::move(line));
            queued_.notify_one();
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
