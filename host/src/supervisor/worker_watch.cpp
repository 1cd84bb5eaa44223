// What the supervisor checks of each serving worker once a second (supervisor.hpp's
// watch_workers), and what it says of one that crashed:
//
//   a request in plugin code for stuck_warning   logged: plugin, listener, hook, peer
//   ... for stuck_limit                          the worker replaced (a forking child killed)
//   resident memory past worker_memory_limit     the worker replaced
//   a worker killed by a signal                  the hook and peer it was in, if recorded
//
// A replaced worker drains like an old generation: a new one serves at once (the
// listeners are shared, so nothing is refused meanwhile), the old one finishes what it
// has until drain_timeout.
#include "supervisor.hpp"

#include <sockhost/host/shared/log.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace sockhost {

namespace {

std::string where(const Generation &generation, const PluginActivity &activity) {
    return std::string(hook_name(activity.hook)) + " for peer " + activity.peer + " (" +
           generation.watched[static_cast<std::size_t>(activity.listener)].serves + ")";
}

// The resident memory of `pid` in MiB, from /proc/PID/statm (0 when unreadable).
std::uint64_t resident_mb(pid_t pid) {
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    std::uint64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / (1024 * 1024);
}

// The parent of `pid`, from /proc/PID/stat (after the command, which may hold spaces).
pid_t parent_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto end_of_command = text.rfind(')');
    if (end_of_command == std::string::npos) return 0;
    char state = 0;
    int parent = 0;
    if (std::sscanf(text.c_str() + end_of_command + 1, " %c %d", &state, &parent) != 2) return 0;
    return parent;
}

// Kills a forking-mode request child of `worker`: opened as a pidfd first, then checked
// to be the worker's child, so a pid reused meanwhile is never signalled.
bool kill_request_child(pid_t child, pid_t worker) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    if (!pidfd || parent_of(child) != worker) return false;
    return ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0;
}

}  // namespace

std::string crash_site(const Generation &generation, const Worker &worker, pid_t pid) {
    if (!worker.activity) return {};
    auto found = activities_in_plugin_code(worker.activity->table(), coarse_now_ms(),
                                           static_cast<int>(generation.watched.size()));
    std::erase_if(found, [&](const PluginActivity &activity) { return activity.pid != pid; });
    if (found.empty()) return {};
    std::string text = " in " + where(generation, found.front());
    if (found.size() > 1)
        text += " (or another of the " + std::to_string(found.size()) + " requests then in plugin code)";
    return text;
}

void Supervisor::watch_workers() {
    const auto now = Clock::now();
    if (now < next_watch_) return;
    next_watch_ = now + kWatchInterval;
    Generation *serving = generations_.serving.get();
    if (serving == nullptr || stopping()) return;
    for (std::size_t position = 0; position < serving->workers.size(); ++position) {
        Worker &worker = serving->workers[position];
        const pid_t pid = worker.process.pid();
        if (pid <= 0 || !worker.ready) continue;
        std::string replace_because = stuck_requests(*serving, worker);
        if (replace_because.empty()) replace_because = over_memory_limit(*serving, worker);
        if (replace_because.empty() || now < worker.replace_not_before) continue;
        log_warning(serving->describe(worker, pid) + " " + replace_because + "; replacing it (it drains for up to " +
                    duration_text(config_.drain_timeout) + " once the new one is ready); it served " +
                    serving->serves(worker));
        if (auto replaced = serving->replace_worker(position); !replaced) {
            log_error(serving->describe(worker, pid) + ": cannot start its replacement: " + replaced.error().message);
            worker.replace_not_before = now + std::chrono::seconds(30);
        }
    }
}

// Why `worker` is replaced for its memory, if it is. One already over the limit when it
// was first seen ready would be over it again in its replacement: said once, kept.
std::string Supervisor::over_memory_limit(const Generation &generation, Worker &worker) {
    const std::uint64_t limit = config_.worker_memory_limit_mb;
    if (limit == 0) return {};
    const pid_t pid = worker.process.pid();
    const auto resident = resident_mb(pid);
    const bool fresh = !worker.resident_when_ready;
    if (fresh) worker.resident_when_ready = resident;
    if (resident <= limit) return {};
    const std::string uses = "uses " + std::to_string(resident) + " MiB of resident memory, past worker_memory_limit " +
                             std::to_string(limit) + " MiB";
    if (*worker.resident_when_ready <= limit) return uses;
    if (fresh)
        log_warning(generation.describe(worker, pid) + " " + uses + " as soon as it is ready; not replacing it "
                    "(a new one would be as big): raise worker_memory_limit");
    return {};
}

// Warns of each request of `worker` in plugin code past its listener's stuck_warning,
// once; past stuck_limit kills a forking child, or returns why the worker is replaced.
std::string Supervisor::stuck_requests(const Generation &generation, Worker &worker) {
    if (!worker.activity) return {};
    const pid_t pid = worker.process.pid();
    const auto found = activities_in_plugin_code(worker.activity->table(), coarse_now_ms(),
                                                 static_cast<int>(generation.watched.size()));
    std::string replace_because;
    for (const auto &activity : found) {
        const auto &listener = generation.watched[static_cast<std::size_t>(activity.listener)];
        const bool child = activity.pid != pid;
        if (child && ::kill(activity.pid, 0) != 0) continue;  // died; its worker frees the slot
        const std::string who = generation.describe(worker, pid) + (child ? " request child " + std::to_string(activity.pid) : "");
        const std::string stuck = who + ": " + where(generation, activity) + " has run plugin code for " +
                                  duration_text(activity.in_plugin) + " without returning or calling the host";
        if (listener.stuck_limit.count() > 0 && activity.in_plugin >= listener.stuck_limit) {
            const std::pair<std::size_t, std::uint32_t> key{activity.slot, activity.serial};
            if (child) {
                // Killed once: until its worker reaps it, the zombie still answers to its pid.
                if (std::find(worker.stuck_killed.begin(), worker.stuck_killed.end(), key) != worker.stuck_killed.end()) continue;
                std::erase_if(worker.stuck_killed, [&](const auto &killed) { return killed.first == key.first; });
                worker.stuck_killed.push_back(key);
                if (kill_request_child(activity.pid, pid)) log_error(stuck + ", past stuck_limit; killing the child");
            } else if (replace_because.empty()) {
                log_error(stuck + ", past stuck_limit");
                replace_because = "has a request stuck in plugin code past stuck_limit (" +
                                  duration_text(listener.stuck_limit) + ")";
            }
            continue;
        }
        if (listener.stuck_warning.count() == 0 || activity.in_plugin < listener.stuck_warning) continue;
        const std::pair<std::size_t, std::uint32_t> key{activity.slot, activity.serial};
        if (std::find(worker.stuck_warned.begin(), worker.stuck_warned.end(), key) != worker.stuck_warned.end()) continue;
        // Only the slots' latest holds matter: the list stays as short as the slots in use.
        std::erase_if(worker.stuck_warned, [&](const auto &warned) { return warned.first == key.first; });
        worker.stuck_warned.push_back(key);
        log_warning(stuck + (listener.stuck_limit.count() > 0
                                 ? "; at stuck_limit (" + duration_text(listener.stuck_limit) + ") it is " +
                                       (child ? "killed" : "replaced")
                                 : std::string()));
    }
    return replace_because;
}

}  // namespace sockhost
