// One generation: the worker processes started from one configuration. Each worker is a
// fresh fork+exec of the sockhost binary that inherits the generation's listeners as fds
// 3.. (LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID), reads the configuration snapshot from an
// inherited memfd and reports on a status pipe: "READY" once it serves every listener, or
// "FAILED reason" if it could not start; later "DRAINING" once told to stop, when its
// loops have been told to stop accepting.
#pragma once

#include <sockhost/host/shared/child_process.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sockhost {

using SteadyClock = std::chrono::steady_clock;

// What every worker of a generation is started with.
struct WorkerLaunch {
    std::filesystem::path binary;         // resolved once, when the supervisor started
    UniqueFd config;                      // memfd holding the ConfigSnapshot as JSON
    std::vector<int> listener_fds;        // held by the supervisor's ListenerSet
    std::vector<std::string> listener_names;
};

struct Worker {
    int index = 0;  // 1-based within its generation
    ChildProcess process;
    UniqueFd status;              // read end of the status pipe; closed at end of input
    std::string status_text;      // what arrived, up to a newline
    bool ready = false;
    bool draining = false;  // reported "DRAINING": it accepts nothing new
    std::optional<std::string> failure;  // "FAILED" reason reported by the worker
    SteadyClock::time_point started;
};

// A worker's arguments in the binary's hidden `worker` command.
struct WorkerArguments {
    int generation = 0;
    int index = 0;
    int config_fd = -1;
    int status_fd = -1;
};

struct Generation {
    enum class State { starting, serving, draining };

    int number = 0;
    State state = State::starting;
    WorkerLaunch launch;
    std::set<std::string> listener_keys;  // the listeners it serves (ListenerSet keys)
    std::vector<Worker> workers;
    SteadyClock::time_point deadline;     // starting: READY by then; draining: killed after it

    // Forks and executes worker `index`; what fails before exec is an error here.
    Result<void> spawn_worker(int index);
    bool all_ready() const;
    bool all_draining() const;  // every worker reported DRAINING or has exited
    bool all_exited() const;
    void signal_all(int signal_number);
    std::string name() const { return "generation " + std::to_string(number); }
};

// Creates the memfd a generation's workers read their configuration from.
Result<UniqueFd> make_config_memfd(const std::string &snapshot_json);

// Reads the whole configuration memfd (with pread: every worker shares its offset).
Result<std::string> read_config_memfd(int fd);

// Writes one status line ("READY", "FAILED reason") to the supervisor.
void report_status(int status_fd, const std::string &line);

}  // namespace sockhost
