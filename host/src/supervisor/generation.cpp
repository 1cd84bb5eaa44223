#include <sockhost/host/supervisor/generation.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

extern char **environ;

namespace sockhost {

namespace {

// Async-signal-safe decimal for the child between fork and exec.
void write_decimal(char *out, long value) {
    char digits[24];
    int count = 0;
    do {
        digits[count++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (count > 0) *out++ = digits[--count];
    *out = '\0';
}

}  // namespace

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

void report_status(int status_fd, const std::string &line) {
    std::string text = line;
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

Result<void> Generation::spawn_worker(int index) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_errno(name() + ": status pipe");
    UniqueFd status_read(pipe_fds[0]);
    UniqueFd status_write(pipe_fds[1]);
    if (::fcntl(status_read.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno(name() + ": status pipe O_NONBLOCK");

    // Everything the child needs is prepared here: between fork and exec it only makes
    // async-signal-safe calls.
    const int listener_count = static_cast<int>(launch.listener_fds.size());
    const int config_target = 3 + listener_count;
    const int status_target = config_target + 1;
    std::vector<int> sources = launch.listener_fds;
    sources.push_back(launch.config.get());
    sources.push_back(status_write.get());
    std::vector<std::string> arguments = {launch.binary.string(), "worker",
                                          "--generation", std::to_string(number),
                                          "--index", std::to_string(index),
                                          "--config-fd", std::to_string(config_target),
                                          "--status-fd", std::to_string(status_target)};
    std::vector<std::string> environment;
    for (char **variable = environ; *variable != nullptr; ++variable) {
        const std::string_view text(*variable);
        // Socket activation is for the supervisor; so is talking to systemd (MAINPID).
        if (text.starts_with("LISTEN_") || text.starts_with("NOTIFY_SOCKET=")) continue;
        environment.emplace_back(text);
    }
    std::string names;
    for (const auto &listener_name : launch.listener_names) names += (names.empty() ? "" : ":") + listener_name;
    environment.push_back("LISTEN_FDS=" + std::to_string(listener_count));
    environment.push_back("LISTEN_FDNAMES=" + names);
    environment.push_back("LISTEN_PID=" + std::string(24, '\0'));
    char *listen_pid_digits = environment.back().data() + std::strlen("LISTEN_PID=");
    std::vector<char *> argv;
    for (auto &argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<char *> envp;
    for (auto &variable : environment) envp.push_back(variable.data());
    envp.push_back(nullptr);
    const int highest = std::max(status_target, *std::max_element(sources.begin(), sources.end()));
    const pid_t supervisor = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) return fail_errno(name() + ": fork");
    if (pid == 0) {
        // A worker never outlives its supervisor: nobody would stop or replace it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != supervisor) ::_exit(127);
        // The stop signals stay blocked across exec: one sent before the worker takes them
        // with sigwaitinfo waits for it instead of killing it half-started.
        sigset_t stop;
        sigemptyset(&stop);
        for (const int signal_number : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&stop, signal_number);
        ::sigprocmask(SIG_SETMASK, &stop, nullptr);
        // Move every source above all targets first, then into place: no source is
        // overwritten before it is copied.
        for (std::size_t position = 0; position < sources.size(); ++position) {
            // Close-on-exec: should close_range be unavailable, these copies still die at exec.
            sources[position] = ::fcntl(sources[position], F_DUPFD_CLOEXEC, highest + 1);
            if (sources[position] < 0) ::_exit(127);
        }
        for (std::size_t position = 0; position < sources.size(); ++position)
            if (::dup2(sources[position], 3 + static_cast<int>(position)) < 0) ::_exit(127);
        ::close_range(static_cast<unsigned>(status_target + 1), ~0U, 0);
        write_decimal(listen_pid_digits, static_cast<long>(::getpid()));
        ::execve(argv[0], argv.data(), envp.data());
        const char message[] = "FAILED cannot execute the sockhost binary\n";
        [[maybe_unused]] const ssize_t ignored = ::write(status_target, message, sizeof message - 1);
        ::_exit(127);
    }
    auto process = ChildProcess::adopt(pid);
    if (!process) return std::unexpected(process.error());
    Worker worker;
    worker.index = index;
    worker.process = std::move(*process);
    worker.status = std::move(status_read);
    worker.started = SteadyClock::now();
    workers.push_back(std::move(worker));
    return {};
}

bool Generation::all_ready() const {
    return !workers.empty() && std::all_of(workers.begin(), workers.end(), [](const Worker &worker) { return worker.ready; });
}

bool Generation::all_draining() const {
    return std::all_of(workers.begin(), workers.end(),
                       [](const Worker &worker) { return worker.draining || worker.process.pid() <= 0; });
}

bool Generation::all_exited() const {
    return std::all_of(workers.begin(), workers.end(), [](const Worker &worker) { return worker.process.pid() <= 0; });
}

void Generation::signal_all(int signal_number) {
    for (auto &worker : workers) worker.process.signal(signal_number);
}

}  // namespace sockhost
