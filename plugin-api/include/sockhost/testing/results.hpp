// What the harness records of a request and of an instance's lifecycle, for assertions.
#ifndef SOCKHOST_TESTING_RESULTS_HPP
#define SOCKHOST_TESTING_RESULTS_HPP

#include <sockhost/plugin.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sockhost::sdk::testing {

struct LogLine {
    sockhost_log_level level = SOCKHOST_LOG_INFO;
    std::string message;
    std::string peer;  // the request's peer when the line was logged with a request
};

// What happened to one request. A hook's status is empty when it did not run: absent
// from the descriptor, or skipped by the ordering rules.
// Bytes written at one virtual time (RequestResult::output_at).
struct TimedOutput {
    std::uint64_t at_ms = 0;
    std::string bytes;
    bool operator==(const TimedOutput &) const = default;
};

struct RequestResult {
    std::optional<bool> verify;
    std::optional<sockhost_status> setup;
    std::optional<sockhost_status> handle;
    std::optional<sockhost_status> finish;
    std::vector<std::string> hooks;  // the hooks that ran, in order: "verify", "setup", ...

    std::string output;             // every byte written (stream), or the reply (datagram)
    // The same by the virtual time it was written at (Input::turns, sleep_ms), one entry
    // per time; and the virtual time the request ended at.
    std::vector<TimedOutput> output_at;
    std::uint64_t elapsed_ms = 0;
    std::size_t write_count = 0;    // successful write calls
    std::size_t flush_count = 0;    // flush calls on a stream
    std::size_t unflushed_bytes = 0;  // written after the last flush (the host sends them at finish)
    std::size_t bytes_read = 0;     // input the plugin consumed
    // bytes_read at each between_requests call: where the plugin said a request ended.
    std::vector<std::size_t> between_requests_at;
    // bytes_read at each stopping() call that returned true.
    std::vector<std::size_t> stopping_seen_at;

    // The state attached with set_handoff_state when the request ended (empty: none), and
    // bytes_read at each set_handoff_state call that the host took.
    std::string handoff_state;
    std::vector<std::size_t> handoff_state_set_at;
    // Moved to the next generation (Input::hand_off_after_bytes_read), with the input it
    // had not read: the next generation serves it with handoff_state attached.
    bool handed_off = false;
    std::string handed_off_bytes;

    std::string error;  // the last message given to set_error
    // Calls of a release given to set_user_data (ABI 1.4): at a replacement, and once at
    // the request's end. Under serve_forked, the child's, and the worker's of data
    // attached in verify (each process releases its copy).
    std::size_t user_data_releases = 0;
    std::vector<LogLine> log;
    std::vector<std::uint64_t> sleeps_ms;
    std::uint64_t timeout_ms = 0;  // the request's timeout at the end
    // Calls that break the ABI's rules (a request function used outside its hook or on
    // another thread). Always empty for a correct plugin.
    std::vector<std::string> misuse;

    // Served to the end: verify accepted and every hook that ran returned SOCKHOST_OK.
    bool ok() const {
        auto fine = [](const std::optional<sockhost_status> &status) {
            return !status || *status == SOCKHOST_OK;
        };
        return verify.value_or(true) && handle.has_value() && fine(setup) && fine(handle) &&
               fine(finish);
    }
};

// Instance::export_state: the hook's status (empty when the descriptor has no
// export_state), a copy of the bytes it gave, and the lines it logged.
struct StateExport {
    std::optional<sockhost_status> status;
    std::string state;
    std::vector<LogLine> log;
    bool ok() const { return status == SOCKHOST_OK; }
};

// Instance::import_state: the hook's status (empty when the descriptor has no
// import_state), what it wrote into its error buffer, and the lines it logged.
struct StateImport {
    std::optional<sockhost_status> status;
    std::string error;
    std::vector<LogLine> log;
    bool ok() const { return status == SOCKHOST_OK; }
};

// A histogram an instance declared, as read by Instance::histogram: per bucket, not
// cumulative (bounds, then +Inf).
struct HistogramValue {
    std::vector<double> bounds;
    std::vector<std::uint64_t> buckets;
    std::uint64_t count = 0;
    double sum = 0;
};

// run(): the request's result plus the instance's lifecycle.
struct RunResult : RequestResult {
    sockhost_status create = SOCKHOST_ERROR;
    std::string create_error;  // what create wrote into its error buffer
    std::optional<sockhost_status> process_init;
};

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_RESULTS_HPP
