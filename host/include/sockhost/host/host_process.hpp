// The `sockhost` processes: the supervisor (owns the listeners, runs generations of
// workers, never loads a plugin) and the worker (adopts the listeners it inherited, switches to the
// configured user, loads the plugins and serves). See docs/architecture.md, "Process model".
#pragma once

#include <sockhost/host/shared/config.hpp>
#include <sockhost/host/shared/worker_channel.hpp>

namespace sockhost {

// Exit codes, documented in docs/config.md and docs/operations.md.
enum ExitCode : int { exit_ok = 0, exit_runtime_failure = 1, exit_startup_failure = 2 };

// The supervisor: serves `config_file` through generations of workers until SIGTERM
// (graceful) or SIGINT/SIGQUIT (fast); SIGHUP reloads. Returns the exit code.
int run_supervisor(const std::filesystem::path &config_file);

// A worker of generation `arguments.generation`: adopts the inherited listeners, loads the
// plugins, serves, reports READY, and drains on SIGTERM. Returns the exit code.
int run_worker(const WorkerArguments &arguments);

// `sockhost --check`: validates the configuration and loads every plugin in plugin_dir in
// a throwaway process, serving nothing. Returns exit_ok or exit_startup_failure.
int check_configuration(const std::filesystem::path &config_file);

}  // namespace sockhost
