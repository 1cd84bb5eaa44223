// A minimal HTTP client for the admin endpoint's tests, and what they read of /metrics.
#pragma once

#include <string>

namespace sockhost::test {

struct HttpAnswer {
    int status = 0;    // 0: no status line came back
    std::string head;  // status line and headers
    std::string body;
};

// Sends `request` as it is on a new connection to `address` ("unix:/p", "tcp://h:p") and
// reads the answer to the end (the admin endpoint closes after each).
HttpAnswer http_exchange(const std::string &address, const std::string &request);
HttpAnswer http_get(const std::string &address, const std::string &path);

// The value of the sample `series` (name with its labels exactly as exposed) in an
// exposition text; "" when absent.
std::string metric_value(const std::string &exposition, const std::string &series);

// Runs a shell command line: its exit code and its stdout and stderr together.
struct ShellOutcome {
    int exit_code;
    std::string output;
};
ShellOutcome run_command(const std::string &command_line);

}  // namespace sockhost::test
