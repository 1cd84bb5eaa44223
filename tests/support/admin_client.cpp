#include "admin_client.hpp"

#include "clients.hpp"
#include "host_under_test.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sockhost::test {

std::string admin_of(const HostUnderTest &host) { return "unix:" + (host.dir() / "admin.sock").string(); }

HttpAnswer http_exchange(const std::string &address, const std::string &request) {
    HttpAnswer answer;
    UniqueFd connection = connect_stream(address);
    if (!connection) return answer;
    send_all(connection.get(), request);
    const std::string text = read_until_eof(connection.get());
    const auto end_of_head = text.find("\r\n\r\n");
    answer.head = text.substr(0, end_of_head);
    if (end_of_head != std::string::npos) answer.body = text.substr(end_of_head + 4);
    if (text.starts_with("HTTP/1.1 ") && text.size() >= 12) answer.status = std::atoi(text.substr(9, 3).c_str());
    return answer;
}

HttpAnswer http_get(const std::string &address, const std::string &path) {
    return http_exchange(address, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

std::string metric_value(const std::string &exposition, const std::string &series) {
    const std::string wanted = series + " ";
    std::size_t start = 0;
    while (start < exposition.size()) {
        auto end = exposition.find('\n', start);
        if (end == std::string::npos) end = exposition.size();
        const std::string_view line(exposition.data() + start, end - start);
        if (line.starts_with(wanted)) return std::string(line.substr(wanted.size()));
        start = end + 1;
    }
    return {};
}

std::string listener_series(const std::string &name, const std::string &listener, const std::string &plugin,
                            const std::string &mode, const std::string &extra) {
    std::string series = name + "{listener=\"" + listener + "\",plugin=\"" + plugin + "\",mode=\"" + mode + "\"";
    if (!extra.empty()) series += "," + extra;
    return series + "}";
}

std::string scrape_until(const std::string &admin, const std::map<std::string, std::string> &expected,
                         std::chrono::milliseconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
        std::string exposition = http_get(admin, "/metrics").body;
        bool all = true;
        for (const auto &[series, value] : expected) all = all && metric_value(exposition, series) == value;
        if (all || std::chrono::steady_clock::now() >= deadline) return exposition;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

ShellOutcome run_command(const std::string &command_line) {
    ShellOutcome outcome{-1, {}};
    FILE *pipe = ::popen((command_line + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return outcome;
    char buffer[4096];
    std::size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) outcome.output.append(buffer, count);
    const int status = ::pclose(pipe);
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return outcome;
}

}  // namespace sockhost::test
