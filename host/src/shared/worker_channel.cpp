#include <sockhost/host/shared/worker_channel.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

namespace sockhost {

namespace {

constexpr std::string_view kReady = "READY";
constexpr std::string_view kDraining = "DRAINING";
constexpr std::string_view kFailed = "FAILED ";

std::optional<WorkerStatusReader::Line> parse_status_line(std::string_view line) {
    if (line == kReady) return WorkerStatusReader::Line{WorkerStatus::ready, {}};
    if (line == kDraining) return WorkerStatusReader::Line{WorkerStatus::draining, {}};
    if (line.starts_with(kFailed)) return WorkerStatusReader::Line{WorkerStatus::failed, std::string(line.substr(kFailed.size()))};
    return std::nullopt;  // not a status word: ignored
}

}  // namespace

std::vector<std::string> WorkerArguments::command_line(const std::string &binary) const {
    std::vector<std::string> line{binary,          kCommand,
                                  kGenerationOption, std::to_string(generation),
                                  kIndexOption,      std::to_string(index),
                                  kConfigFdOption,   std::to_string(config_fd),
                                  kStatusFdOption,   std::to_string(status_fd)};
    if (!listeners.empty()) {
        std::string indices;
        for (const int listener : listeners) indices += (indices.empty() ? "" : ",") + std::to_string(listener);
        line.push_back(kListenersOption);
        line.push_back(indices);
    }
    if (activity_fd >= 0) {
        line.push_back(kActivityFdOption);
        line.push_back(std::to_string(activity_fd));
    }
    if (handoff_fd >= 0) {
        line.push_back(kHandoffFdOption);
        line.push_back(std::to_string(handoff_fd));
    }
    if (metrics_fd >= 0) {
        line.push_back(kMetricsFdOption);
        line.push_back(std::to_string(metrics_fd));
    }
    return line;
}

sigset_t stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    for (const int signal_number : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&signals, signal_number);
    return signals;
}

void prepare_process_signals() {
    const sigset_t signals = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // writes use MSG_NOSIGNAL too; this covers a plugin's own
    // An inherited SIG_IGN would make the kernel reap request children behind our back.
    ::signal(SIGCHLD, SIG_DFL);
}

Result<UniqueFd> make_config_memfd(const std::string &snapshot_json) {
    UniqueFd fd(::memfd_create("sockhost-config", MFD_CLOEXEC));
    if (!fd) return fail_errno("memfd_create for the workers' configuration");
    std::size_t written = 0;
    while (written < snapshot_json.size()) {
        const ssize_t count = ::write(fd.get(), snapshot_json.data() + written, snapshot_json.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return fail_errno("writing the workers' configuration");
        written += static_cast<std::size_t>(count);
    }
    return fd;
}

Result<std::string> read_config_memfd(int fd) {
    std::string text;
    char buffer[65536];
    for (off_t offset = 0;;) {
        const ssize_t count = ::pread(fd, buffer, sizeof buffer, offset);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return fail_errno("reading the configuration from the supervisor (fd " + std::to_string(fd) + ")");
        if (count == 0) return text;
        text.append(buffer, static_cast<std::size_t>(count));
        offset += count;
    }
}

void report_status(int status_fd, WorkerStatus status, const std::string &reason) {
    std::string text;
    switch (status) {
    case WorkerStatus::ready: text = kReady; break;
    case WorkerStatus::draining: text = kDraining; break;
    case WorkerStatus::failed: text = std::string(kFailed) + reason; break;
    }
    std::replace(text.begin(), text.end(), '\n', ' ');
    text += '\n';
    // The whole line, even if a signal or a line longer than PIPE_BUF splits the write: the
    // supervisor reads whole lines. A gone supervisor is no error here.
    for (std::size_t written = 0; written < text.size();) {
        const ssize_t count = ::write(status_fd, text.data() + written, text.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return;
        written += static_cast<std::size_t>(count);
    }
}

WorkerStatusReader::Reading WorkerStatusReader::read_available() {
    Reading reading;
    if (!fd_) return reading;
    char buffer[4096];
    ssize_t count = 0;
    while ((count = ::read(fd_.get(), buffer, sizeof buffer)) > 0) pending_.append(buffer, static_cast<std::size_t>(count));
    if (count == 0) fd_.reset();
    if (pending_.size() > kMaxLine && pending_.find('\n') == std::string::npos) {
        reading.overlong = true;
        pending_.clear();
    }
    for (auto newline = pending_.find('\n'); newline != std::string::npos; newline = pending_.find('\n')) {
        if (auto line = parse_status_line(std::string_view(pending_).substr(0, newline))) reading.lines.push_back(*line);
        pending_.erase(0, newline + 1);
    }
    return reading;
}

}  // namespace sockhost
