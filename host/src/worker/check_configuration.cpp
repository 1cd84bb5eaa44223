// `sockhost --check -c CONFIG`: what a reload would read, validated without serving.
// Plugins are loaded in a throwaway child process: their code (constructors, create) runs,
// and a plugin that crashes, exits or hangs takes down only that child. Every NAME.so in
// plugin_dir is loaded, used by a listener or not: a file dropped there is meant to be
// used, and is better found broken now than at the reload that first uses it. process_init
// is not run (it may start work meant for a serving process); nothing is bound.
//
// The child says on a pipe what it is about to run ("plugin FILE", "listener ADDRESS")
// and, last, "OK": a child that ends without "OK" failed, whatever its exit status (a
// plugin's constructor may call exit(0)), and the last line names the culprit.
#include <sockhost/host/host_process.hpp>

#include <sockhost/host/shared/child_process.hpp>
#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/shared/privileges.hpp>
#include <sockhost/host/shared/unique_fd.hpp>
#include <sockhost/host/worker/plugin/plugin_set.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sockhost {

namespace {

constexpr std::string_view kDone = "OK";
constexpr std::string_view kRefused = "FAILED";  // the child logged why

void say(int fd, const std::string &line) {
    const std::string text = line + "\n";
    [[maybe_unused]] const ssize_t ignored = ::write(fd, text.data(), text.size());
}

// In the child: loads and creates everything, saying what comes next before each step.
Result<void> load_everything(const HostConfig &config, const ConfigSnapshot &snapshot, int progress_fd) {
    // As a worker would: switched to `user` before any plugin code runs, and with the
    // same file checks.
    if (config.run_as) {
        if (auto dropped = drop_privileges(*config.run_as); !dropped) return std::unexpected(dropped.error());
    }
    LoadedPlugins plugins;
    for (const auto &name : snapshot.plugins) {
        say(progress_fd, "plugin " + (config.plugin_dir / (name + ".so")).string() + " (loading)");
        auto loaded = load_plugins(config, {name});
        if (!loaded) return std::unexpected(loaded.error());
        const auto &plugin = loaded->at(name);
        log_info("check: plugin " + plugin->file().string() + " loads: " + plugin->descriptor().name + " " +
                 plugin->descriptor().version);
        plugins.merge(*loaded);
    }
    for (std::size_t index = 0; index < config.listeners.size(); ++index) {
        const auto &listener = config.listeners[index];
        say(progress_fd, "listener " + listener.address.text() + " (plugin " + listener.plugin + ", create)");
        auto handler = create_listener_handler(plugins, listener, static_cast<int>(index));
        if (!handler) return std::unexpected(handler.error());
    }
    return {};
}

// What start-up needs beyond the config's own rules: the directories of the files the
// supervisor creates.
Result<void> check_host_files(const HostConfig &config) {
    for (const auto &[what, path] : {std::pair{"control_socket", config.control_socket}, {"pid_file", config.pid_file}}) {
        if (path.empty()) continue;
        std::error_code error;
        if (!std::filesystem::is_directory(path.parent_path(), error))
            return fail(std::string(what) + " " + path.string() + ": directory " + path.parent_path().string() +
                        " does not exist");
    }
    return {};
}

struct ChildReport {
    std::string last_line;  // what it said last: "OK", or the step it died in
    bool timed_out = false;
};

// Reads the child's lines until it has exited (its pipe may outlive it in a process a
// plugin forked) or `deadline` passes. The pipe is non-blocking.
ChildReport read_child_report(int fd, const ChildProcess &child, Clock::time_point deadline) {
    ChildReport report;
    std::string received;
    bool pipe_open = true;
    const auto drain = [&] {
        char buffer[1024];
        for (ssize_t count; (count = ::read(fd, buffer, sizeof buffer)) > 0;)
            received.append(buffer, static_cast<std::size_t>(count));
    };
    for (;;) {
        const int timeout = poll_timeout_until(deadline);
        if (timeout == 0) {
            report.timed_out = true;
            break;
        }
        // Once the pipe has hung up (the plugin may close it and go on), only the exit counts.
        pollfd watched[2] = {{pipe_open ? fd : -1, POLLIN, 0}, {child.pidfd(), POLLIN, 0}};
        if (::poll(watched, 2, timeout) < 0 && errno != EINTR) break;
        drain();
        if ((watched[0].revents & (POLLHUP | POLLERR)) != 0) pipe_open = false;
        if (watched[1].revents != 0) break;  // exited: what it said is all in the pipe
    }
    drain();
    while (!received.empty() && received.back() == '\n') received.pop_back();
    const auto last_newline = received.rfind('\n');
    report.last_line = last_newline == std::string::npos ? received : received.substr(last_newline + 1);
    return report;
}

int report_failure(const std::string &message) {
    log_error("check failed: " + message);
    return exit_startup_failure;
}

}  // namespace

int check_configuration(const std::filesystem::path &config_file) {
    auto effective = read_effective_config(config_file);
    if (!effective) return report_failure(effective.error().message);
    for (const auto &note : effective->notes) log_info(note);
    if (auto files = check_host_files(effective->config); !files)
        return report_failure("config " + config_file.string() + ": " + files.error().message);
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return report_failure(std::string("pipe: ") + std::strerror(errno));
    UniqueFd progress_read(pipe_fds[0]);
    UniqueFd progress_write(pipe_fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) return report_failure(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        progress_read.reset();
        auto loaded = load_everything(effective->config, effective->snapshot, progress_write.get());
        if (!loaded) log_error("check failed: " + loaded.error().message);
        say(progress_write.get(), std::string(loaded ? kDone : kRefused));
        ::_exit(loaded ? exit_ok : exit_startup_failure);
    }
    progress_write.reset();
    auto child = ChildProcess::adopt(pid);  // killed and reaped if this returns early
    if (!child) return report_failure(child.error().message);
    // A worker has ready_timeout to load and create everything: so has the check.
    const auto report = read_child_report(progress_read.get(), *child, Clock::now() + effective->config.ready_timeout);
    if (report.timed_out) {
        child->signal(SIGKILL);
        return report_failure(report.last_line + ": still running after ready_timeout (" +
                              std::to_string(effective->config.ready_timeout.count()) + " ms); killed");
    }
    const auto reaped = child->try_reap();  // its pidfd was readable: it has exited
    if (!reaped) return report_failure("the loading child could not be reaped");
    const int status = *reaped;
    if (report.last_line == kDone && WIFEXITED(status) && WEXITSTATUS(status) == exit_ok) {
        log_info("check: config " + config_file.string() + " is valid: " +
                 std::to_string(effective->config.listeners.size()) + " listener(s), " +
                 std::to_string(effective->snapshot.plugins.size()) + " plugin(s) load");
        return exit_ok;
    }
    if (report.last_line == kRefused) return exit_startup_failure;
    return report_failure((report.last_line.empty() ? std::string("loading the plugins") : report.last_line) + ": " +
                          describe_wait_status(status) + " before the check was complete");
}

}  // namespace sockhost
