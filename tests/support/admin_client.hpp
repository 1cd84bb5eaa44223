// A minimal HTTP client for the admin endpoint's tests, and what they read of /metrics.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace sockhost::test {

class HostUnderTest;

// The admin endpoint of a host configured with "admin": "unix:admin.sock".
std::string admin_of(const HostUnderTest &host);

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

// A listener family's series: `name`{listener,plugin,mode[,extra]} as exposed, e.g.
// listener_series("sockhost_requests_total", "tcp://127.0.0.1:0", "probe", "sync", "outcome=\"ok\"").
std::string listener_series(const std::string &name, const std::string &listener, const std::string &plugin,
                            const std::string &mode, const std::string &extra = {});

// Scrapes /metrics at `admin` until every series in `expected` has its value (counters
// move when a request ends, a little after its answer), or `patience` passes; returns the
// last exposition either way, for the caller's exact assertions and their messages.
std::string scrape_until(const std::string &admin, const std::map<std::string, std::string> &expected,
                         std::chrono::milliseconds patience = std::chrono::seconds(10));

// Runs a shell command line: its exit code and its stdout and stderr together.
struct ShellOutcome {
    int exit_code;
    std::string output;
};
ShellOutcome run_command(const std::string &command_line);

}  // namespace sockhost::test
