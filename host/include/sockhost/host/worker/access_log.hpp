// A listener's access log (its `access_log` option): one JSON line per request, appended
// to a file the worker opened at start. Requests never wait for the disk: a line goes into
// a bounded queue that one writer thread drains, gathering the lines of up to
// kGatherInterval into one write (as nginx's buffered access_log); when the queue is full the line is
// dropped and counted, with a rate-limited warning. A forked request child has no writer
// thread (fork copies only the calling thread): it appends its one line itself with a
// single write(2) after its request has completed, when the client has its answer.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/log_rate_limit.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace sockhost {

struct SocketAddress;

// One access log line's fields (docs/operations.md, "Access log").
struct AccessLogEntry {
    const SocketAddress *peer;
    const std::string *listener;
    const std::string *plugin;
    std::string_view outcome;
    double duration_seconds;
    std::uint64_t received;
    std::uint64_t sent;
};

// The JSON line (with its '\n') for `entry`, stamped `now_ms` (ms since the epoch, UTC).
std::string format_access_log_line(const AccessLogEntry &entry, std::int64_t now_ms);

class AccessLog {
public:
    static constexpr std::size_t kQueuedLines = 4096;
    // The writer waits this long after a first line for more, unless the queue fills to
    // kWakeWriterAt first; a line reaches the file within about that time.
    static constexpr std::chrono::milliseconds kGatherInterval{20};
    static constexpr std::size_t kWakeWriterAt = kQueuedLines / 4;

    // Opens (creating it 0640) `path` to append, refusing a symbolic link; the error names
    // the listener and the path.
    static Result<std::unique_ptr<AccessLog>> open(const std::string &path, const std::string &listener);
    ~AccessLog();  // writes what is queued, then stops the writer thread
    AccessLog(const AccessLog &) = delete;
    AccessLog &operator=(const AccessLog &) = delete;

    // Never blocks on the file; may drop the line (counted) when the queue is full.
    void append(std::string line);
    std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
    AccessLog(UniqueFd fd, std::string path, std::string listener);
    void write_queued();
    void write_line(const std::string &line);

    UniqueFd fd_;
    std::string path_;
    std::string listener_;
    unsigned owner_fork_depth_;  // the worker's; a request child of it writes directly
    std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::atomic<std::uint64_t> dropped_{0};
    LogRateLimit drop_log_;
    LogRateLimit write_error_log_;
    std::thread writer_;
};

}  // namespace sockhost
