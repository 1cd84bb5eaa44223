// The channel between the supervisor and each worker it starts, both directions in one
// place. The supervisor fork+execs `sockhost worker ARGUMENTS` with:
//
//   fd 3 .. 3+N-1   the generation's listeners in config order (LISTEN_FDS=N,
//                   LISTEN_FDNAMES, LISTEN_PID: systemd's socket-activation protocol)
//   fd 3+N          the configuration snapshot, a memfd read with pread (ConfigSnapshot)
//   fd 3+N+1        the write end of the worker's status pipe
//   fd 3+N+2        its activity table, a memfd both map (shared/worker_activity.hpp)
//   fd 3+N+3        its end of the handoff channel (shared/handoff_channel.hpp)
//   fd 3+N+4        its metrics table, a memfd both map (shared/worker_metrics.hpp)
//   signal mask     the stop signals blocked, so one sent early waits for sigwaitinfo
//
// and the worker answers on its status pipe, one line each:
//
//   READY           it serves every listener
//   FAILED reason   it could not start (then it exits 2)
//   DRAINING        told to stop, its loops accept nothing new any more
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <signal.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

// The descriptors a worker of a generation with `listener_count` listeners is given.
struct WorkerFdLayout {
    int listener_count = 0;
    int first_listener() const { return kFirstListenFd; }
    int config() const { return kFirstListenFd + listener_count; }
    int status() const { return config() + 1; }
    int activity() const { return status() + 1; }
    int handoff() const { return activity() + 1; }
    int metrics() const { return handoff() + 1; }
};

// A worker's arguments: the hidden `worker` command's options.
struct WorkerArguments {
    int generation = 0;
    int index = 0;  // 1-based within its generation
    int config_fd = -1;
    int status_fd = -1;
    // The listeners of its worker group, as indices into the configuration's listeners
    // (its inherited fds are these, in this order); empty: every listener.
    std::vector<int> listeners;
    int activity_fd = -1;  // none: nothing is recorded
    int handoff_fd = -1;   // none: connections and state are not handed over
    int metrics_fd = -1;   // none: nothing is counted (`metrics` off)

    static constexpr const char *kCommand = "worker";
    static constexpr const char *kGenerationOption = "--generation";
    static constexpr const char *kIndexOption = "--index";
    static constexpr const char *kConfigFdOption = "--config-fd";
    static constexpr const char *kStatusFdOption = "--status-fd";
    static constexpr const char *kListenersOption = "--listeners";
    static constexpr const char *kActivityFdOption = "--activity-fd";
    static constexpr const char *kHandoffFdOption = "--handoff-fd";
    static constexpr const char *kMetricsFdOption = "--metrics-fd";

    // argv for `binary worker --generation G --index I --config-fd C --status-fd S
    // [--listeners 0,2] [--activity-fd A] [--handoff-fd H] [--metrics-fd M]`.
    std::vector<std::string> command_line(const std::string &binary) const;
};

// SIGTERM (graceful stop), SIGINT and SIGQUIT (fast stop), SIGHUP (reload): blocked in
// every sockhost process and taken with a signalfd or sigwaitinfo, never by a handler.
sigset_t stop_signals();

// Blocks the stop signals in this thread (call before any other thread starts, so every
// thread inherits the mask), ignores SIGPIPE and restores SIGCHLD's default.
void prepare_process_signals();

// Creates the memfd a generation's workers read their configuration from.
Result<UniqueFd> make_config_memfd(const std::string &snapshot_json);

// Reads the whole configuration memfd (with pread: every worker shares its offset).
Result<std::string> read_config_memfd(int fd);

// The worker's side of the status pipe.
enum class WorkerStatus { ready, draining, failed };
void report_status(int status_fd, WorkerStatus status, const std::string &reason = {});

// The supervisor's side of one worker's status pipe (non-blocking read end).
class WorkerStatusReader {
public:
    struct Line {
        WorkerStatus status;
        std::string reason;  // FAILED's; empty otherwise
    };
    struct Reading {
        std::vector<Line> lines;
        bool overlong = false;  // an endless line without a newline was discarded
    };

    WorkerStatusReader() = default;
    explicit WorkerStatusReader(UniqueFd read_end) : fd_(std::move(read_end)) {}

    // -1 once the worker closed its end (or close() was called).
    int fd() const { return fd_.get(); }
    bool open() const { return static_cast<bool>(fd_); }
    void close() { fd_.reset(); }

    // Reads what is available and returns the whole lines that arrived.
    Reading read_available();

    // Status lines are short: a worker writing endless bytes without a newline (a plugin
    // scribbling on the fd) is not buffered without bound.
    static constexpr std::size_t kMaxLine = 64 * 1024;

private:
    UniqueFd fd_;
    std::string pending_;  // what arrived, up to a newline
};

}  // namespace sockhost
