#include "host_under_test.hpp"

#include "clients.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sockhost::test {

using namespace std::chrono_literals;

std::filesystem::path sockhost_binary() { return SOCKHOST_BINARY; }
std::filesystem::path bundled_plugin(const std::string &name) {
    return std::filesystem::path(SOCKHOST_PLUGIN_DIR) / (name + ".so");
}
std::filesystem::path test_plugin(const std::string &name) {
    return std::filesystem::path(SOCKHOST_TEST_PLUGIN_DIR) / (name + ".so");
}

namespace {

std::optional<int> decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return std::nullopt;
}

pid_t spawn(const std::filesystem::path &config, const std::filesystem::path &log_file, const Launch &launch) {
    // Prepared before fork: the child only makes system calls.
    std::vector<std::string> arguments = launch.prefix;
    const auto binary = launch.binary.empty() ? sockhost_binary() : launch.binary;
    for (const std::string &argument : {binary.string(), std::string("--config"), config.string()})
        arguments.push_back(argument);
    std::vector<char *> argv;
    for (auto &argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment;
    for (char **variable = environ; *variable != nullptr; ++variable) environment.emplace_back(*variable);
    for (const auto &variable : launch.environment) environment.push_back(variable);
    std::vector<char *> envp;
    for (auto &variable : environment) envp.push_back(variable.data());
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    // Close everything else the test process holds: the host must start clean.
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (launch.umask) ::umask(*launch.umask);
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
}

std::filesystem::path write_config(const TempDir &dir, nlohmann::json config,
                                   const std::vector<std::filesystem::path> &plugin_files) {
    const auto plugin_dir = dir / "plugins";
    std::filesystem::create_directories(plugin_dir);
    for (const auto &file : plugin_files) std::filesystem::create_symlink(file, plugin_dir / file.filename());
    if (!config.contains("plugin_dir")) config["plugin_dir"] = "plugins";
    const auto path = dir / "sockhost.json";
    std::ofstream(path) << config.dump(2);
    return path;
}

}  // namespace

HangingRequest hanging_probe_request(const std::string &address, const std::string &how) {
    HangingRequest request;
    request.connection = connect_stream(address);
    send_all(request.connection.get(), "pid\nhang " + how + "\n");
    const std::string pid = read_line(request.connection.get());
    EXPECT_EQ(read_line(request.connection.get()), "hanging\n");
    request.pid = pid.empty() ? -1 : std::stoi(pid);
    return request;
}

HostUnderTest::HostUnderTest(nlohmann::json config, const std::vector<std::filesystem::path> &plugin_files,
                             const Launch &launch) {
    config_path_ = write_config(dir_, std::move(config), plugin_files);
    pid_ = spawn(config_path_, dir_ / "sockhost.log", launch);
    if (!launch.wait_until_ready) return;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (log().find("] info: ready:") != std::string::npos) {
            ready_ = true;
            break;
        }
        if (reaped()) break;
        std::this_thread::sleep_for(5ms);
    }
    static const std::regex listening_line("info: listening on (\\S+) ");
    const std::string text = log();
    for (auto match = std::sregex_iterator(text.begin(), text.end(), listening_line); match != std::sregex_iterator();
         ++match)
        listening_.push_back((*match)[1]);
}

HostUnderTest::~HostUnderTest() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    // In sanitizer builds the host (and its forked children) report to this log: any
    // report fails the test that started it, whatever it asserted.
    const std::string text = log();
    const bool expected = !expected_report_.empty() && text.find(expected_report_) != std::string::npos;
    if (!expected &&
        (text.find("Sanitizer") != std::string::npos || text.find("runtime error:") != std::string::npos))
        ADD_FAILURE() << "sanitizer report from sockhost:\n" << text;
}

std::vector<pid_t> HostUnderTest::worker_pids() const { return pid_ > 0 ? child_pids(pid_) : std::vector<pid_t>{}; }

pid_t HostUnderTest::worker_pid() const {
    const auto workers = worker_pids();
    EXPECT_EQ(workers.size(), 1u) << "expected one worker process";
    return workers.empty() ? -1 : workers.front();
}

CommandOutcome run_sockhost_command(const std::string &arguments, const std::string &prefix) {
    const std::string command = (prefix.empty() ? "" : prefix + " ") + sockhost_binary().string() + " " + arguments + " 2>&1";
    FILE *pipe = ::popen(command.c_str(), "r");
    std::string output;
    char buffer[4096];
    while (const std::size_t count = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, count);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::uint16_t HostUnderTest::port(std::size_t listener) const {
    const std::string &address = listening_.at(listener);
    return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

std::string HostUnderTest::log() const {
    std::ifstream input(dir_ / "sockhost.log");
    std::ostringstream text;
    text << input.rdbuf();
    return text.str();
}

bool HostUnderTest::wait_for_log(const std::string &text, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        if (log().find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(5ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

bool HostUnderTest::reaped() {
    int status = 0;
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = decode_status(status);
    pid_ = -1;
    return true;
}

std::optional<int> HostUnderTest::wait_exit(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reaped() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return exit_code_;
}

int HostUnderTest::stop(int signal_number, std::chrono::milliseconds timeout) {
    if (pid_ > 0) ::kill(pid_, signal_number);
    const auto code = wait_exit(timeout);
    if (!code) throw std::runtime_error("sockhost did not exit after signal " + std::to_string(signal_number));
    return *code;
}

StartFailure run_expecting_exit(nlohmann::json config, const std::vector<std::filesystem::path> &plugin_files) {
    HostUnderTest host(std::move(config), plugin_files);
    if (host.ready()) {
        host.stop(SIGKILL);
        return {-1, host.log()};
    }
    const auto code = host.wait_exit();
    return {code.value_or(-1), host.log()};
}

}  // namespace sockhost::test
