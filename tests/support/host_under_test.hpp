// The real `sockhost` binary started with a real config file, as an operator would.
#pragma once

#include "temp_dir.hpp"

#include <sockhost/host/shared/unique_fd.hpp>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

// Defined in sanitizer builds, for tests of what a sanitizer changes (its own signal
// handling, memory use and descriptors).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOCKHOST_TEST_SANITIZED 1
#endif

namespace sockhost::test {

std::filesystem::path sockhost_binary();
std::filesystem::path bundled_plugin(const std::string &name);  // build/plugins/NAME.so
std::filesystem::path test_plugin(const std::string &name);     // plugins built by the tests

// How to start the binary: under a launcher (e.g. systemd-socket-activate ... --), with
// extra environment variables, and from another path (a copy; empty: sockhost_binary()).
struct Launch {
    std::vector<std::string> prefix;
    std::vector<std::string> environment;  // "NAME=VALUE"
    std::filesystem::path binary;
    bool wait_until_ready = true;  // false: return at once, to signal a host still starting
    std::optional<mode_t> umask = std::nullopt;  // the host's umask; unset: the test's own
};

// One listener of the probe test plugin in `mode`, logging its hooks.
inline nlohmann::json probe_on(const char *mode, const char *listen = "tcp://127.0.0.1:0") {
    return {{"listeners",
             {{{"listen", listen}, {"plugin", "probe"}, {"mode", mode}, {"config", {{"log_hooks", true}}}}}}};
}

// A probe request that tells the pid serving it, then hangs ("hang HOW", see the probe)
// for as long as the test holds its connection.
struct HangingRequest {
    UniqueFd connection;
    pid_t pid = -1;
};
HangingRequest hanging_probe_request(const std::string &address, const std::string &how = "");

class HostUnderTest {
public:
    // Writes `config` (with plugin_dir pointing at a private directory holding links to
    // `plugin_files`) and starts sockhost. Waits until it is ready or has exited.
    HostUnderTest(nlohmann::json config, const std::vector<std::filesystem::path> &plugin_files,
                  const Launch &launch = {});
    ~HostUnderTest();  // SIGKILL and reap if still running
    HostUnderTest(const HostUnderTest &) = delete;
    HostUnderTest &operator=(const HostUnderTest &) = delete;

    bool ready() const { return ready_; }
    pid_t pid() const { return pid_; }  // the supervisor
    const TempDir &dir() const { return dir_; }
    const std::filesystem::path &config_path() const { return config_path_; }
    std::filesystem::path plugin_dir() const { return dir_ / "plugins"; }

    // The supervisor's children: the workers of every live generation.
    std::vector<pid_t> worker_pids() const;
    // The one worker (fails the test unless there is exactly one).
    pid_t worker_pid() const;

    // Bound addresses in listener order, from the "listening on" log lines.
    const std::vector<std::string> &listening() const { return listening_; }
    std::uint16_t port(std::size_t listener) const;

    // Everything logged so far on stderr.
    std::string log() const;
    // Waits until the log contains `text`; false on timeout.
    bool wait_for_log(const std::string &text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    // In sanitizer builds any sanitizer report in the log fails the test, except one that
    // contains `text` after this call: for a test that provokes one on purpose.
    void expect_sanitizer_report(std::string text) { expected_report_ = std::move(text); }

    // Sends `signal_number` and waits for the exit; returns the exit code, or 128+signal.
    int stop(int signal_number, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Waits for the process to exit by itself.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));

private:
    // Reaps the host if it has exited (recording its exit code); true once it is gone.
    bool reaped();

    TempDir dir_;
    std::filesystem::path config_path_;
    pid_t pid_ = -1;
    bool ready_ = false;
    std::optional<int> exit_code_;
    std::vector<std::string> listening_;
    std::string expected_report_;
};

// Starts sockhost on `config` and returns its exit code and log, for start-up failures.
struct StartFailure {
    int exit_code;
    std::string log;
};
// Runs `sockhost ARGUMENTS` to completion (e.g. "reload -c FILE"), under `prefix` (e.g.
// "setpriv --reuid=..."), if any: exit code and output.
struct CommandOutcome {
    int exit_code;
    std::string output;  // stdout and stderr together
};
CommandOutcome run_sockhost_command(const std::string &arguments, const std::string &prefix = {});

StartFailure run_expecting_exit(nlohmann::json config, const std::vector<std::filesystem::path> &plugin_files);

}  // namespace sockhost::test
