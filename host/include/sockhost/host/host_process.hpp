// The `sockhost` process: binds every listener, switches to the configured user, loads
// every plugin, serves each listener in its own loop thread, and stops on a signal.
// Nothing serves unless everything started.
#pragma once

#include <sockhost/host/config.hpp>

namespace sockhost {

// Exit codes, documented in docs/config.md.
enum ExitCode : int { exit_ok = 0, exit_runtime_failure = 1, exit_startup_failure = 2 };

// Blocks the stop signals (they are taken with sigwaitinfo) and ignores SIGPIPE. Call
// before any thread starts.
void prepare_process_signals();

// Serves `config` until SIGTERM (graceful: in-flight requests get drain_timeout) or
// SIGINT/SIGQUIT (fast). Returns the exit code.
int run_host(const HostConfig &config);

}  // namespace sockhost
