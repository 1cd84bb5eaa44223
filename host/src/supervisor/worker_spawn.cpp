// How the supervisor starts one worker process: its descriptors and arguments planned
// before the fork, then fork and exec (the rest of Generation is in generation.cpp).
#include <sockhost/host/supervisor/generation.hpp>

#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/supervisor/listener_set.hpp>

#include <fcntl.h>
#include <signal.h>
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

// Everything the child needs between fork and exec, prepared before the fork: there it
// only makes async-signal-safe calls.
struct ExecPlan {
    std::vector<std::string> arguments;
    std::vector<std::string> environment;
    std::vector<char *> argv;
    std::vector<char *> envp;
    std::vector<int> sources;  // moved to fds first_listener.. in this order
    WorkerFdLayout layout;
    char *listen_pid_digits = nullptr;  // written by the child: its own pid
    int highest_fd = 0;
    int last_target = 0;  // the highest of the worker's fds (WorkerFdLayout)
    pid_t supervisor = 0;
};

ExecPlan plan_worker_exec(const WorkerLaunch &launch, const WorkerGroup &group, int generation, int index,
                          int status_write, int activity, int handoff, int metrics) {
    ExecPlan plan;
    plan.layout.listener_count = static_cast<int>(group.listener_fds.size());
    plan.sources = group.listener_fds;
    plan.sources.push_back(launch.config.get());
    plan.sources.push_back(status_write);
    plan.sources.push_back(activity);
    plan.sources.push_back(handoff);
    WorkerArguments arguments{generation,       index, plan.layout.config(), plan.layout.status(), group.listeners,
                              plan.layout.activity(), plan.layout.handoff()};
    if (metrics >= 0) {
        plan.sources.push_back(metrics);
        arguments.metrics_fd = plan.layout.metrics();
    }
    plan.last_target = plan.layout.first_listener() + static_cast<int>(plan.sources.size()) - 1;
    plan.arguments = arguments.command_line(launch.binary.string());
    for (char **variable = environ; *variable != nullptr; ++variable) {
        const std::string_view text(*variable);
        // Socket activation is for the supervisor; so is talking to systemd (MAINPID).
        if (text.starts_with("LISTEN_") || text.starts_with("NOTIFY_SOCKET=")) continue;
        plan.environment.emplace_back(text);
    }
    std::string names;
    for (const auto &listener_name : group.listener_names) names += (names.empty() ? "" : ":") + listener_name;
    plan.environment.push_back("LISTEN_FDS=" + std::to_string(plan.layout.listener_count));
    plan.environment.push_back("LISTEN_FDNAMES=" + names);
    plan.environment.push_back("LISTEN_PID=" + std::string(24, '\0'));
    plan.listen_pid_digits = plan.environment.back().data() + std::strlen("LISTEN_PID=");
    for (auto &argument : plan.arguments) plan.argv.push_back(argument.data());
    plan.argv.push_back(nullptr);
    for (auto &variable : plan.environment) plan.envp.push_back(variable.data());
    plan.envp.push_back(nullptr);
    plan.highest_fd = std::max(plan.last_target, *std::max_element(plan.sources.begin(), plan.sources.end()));
    plan.supervisor = ::getpid();
    return plan;
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_worker(ExecPlan &plan) {
    // A worker never outlives its supervisor: nobody would stop or replace it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != plan.supervisor) ::_exit(127);
    // The stop signals stay blocked across exec: one sent before the worker takes them
    // with sigwaitinfo waits for it instead of killing it half-started.
    const sigset_t stop = stop_signals();
    ::sigprocmask(SIG_SETMASK, &stop, nullptr);
    // Move every source above all targets first, then into place: no source is
    // overwritten before it is copied.
    for (int &source : plan.sources) {
        // Close-on-exec: should close_range be unavailable, these copies still die at exec.
        source = ::fcntl(source, F_DUPFD_CLOEXEC, plan.highest_fd + 1);
        if (source < 0) ::_exit(127);
    }
    for (std::size_t position = 0; position < plan.sources.size(); ++position)
        if (::dup2(plan.sources[position], plan.layout.first_listener() + static_cast<int>(position)) < 0) ::_exit(127);
    ::close_range(static_cast<unsigned>(plan.last_target + 1), ~0U, 0);
    write_decimal(plan.listen_pid_digits, static_cast<long>(::getpid()));
    ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
    const char message[] = "FAILED cannot execute the sockhost binary\n";
    [[maybe_unused]] const ssize_t ignored = ::write(plan.layout.status(), message, sizeof message - 1);
    ::_exit(127);
}

}  // namespace

Result<void> Generation::spawn_worker(int index, std::size_t group) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_errno(name() + ": status pipe");
    UniqueFd status_read(pipe_fds[0]);
    UniqueFd status_write(pipe_fds[1]);
    if (::fcntl(status_read.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno(name() + ": status pipe O_NONBLOCK");
    auto activity = ActivityMapping::create();
    if (!activity) return std::unexpected(activity.error());
    auto handoff = HandoffChannel::make_pair();
    if (!handoff) return std::unexpected(handoff.error());
    std::optional<MetricsMapping> metrics;
    if (launch.metrics) {
        auto created = MetricsMapping::create();
        if (!created) return std::unexpected(created.error());
        metrics = std::move(*created);
    }
    ExecPlan plan = plan_worker_exec(launch, groups[group], number, index, status_write.get(), activity->fd(),
                                     handoff->second.get(), metrics ? metrics->fd() : -1);
    const pid_t pid = ::fork();
    if (pid < 0) return fail_errno(name() + ": fork");
    if (pid == 0) exec_worker(plan);
    auto process = ChildProcess::adopt(pid);
    if (!process) return std::unexpected(process.error());
    Worker worker;
    worker.index = index;
    worker.group = group;
    worker.process = std::move(*process);
    worker.status = WorkerStatusReader(std::move(status_read));
    activity->close_descriptor();  // the child has its copy; the mapping is all we read
    worker.activity = std::move(*activity);
    if (metrics) {
        metrics->close_descriptor();
        worker.metrics = std::move(*metrics);
    }
    worker.handoff = HandoffChannel(std::move(handoff->first));
    worker.started = Clock::now();
    workers.push_back(std::move(worker));
    return {};
}

}  // namespace sockhost
