// The sockhost command line and config errors as an operator meets them.
#include "host_under_test.hpp"

#include <sockhost/plugin.h>

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>

namespace sockhost::test {
namespace {

struct Outcome {
    int exit_code;
    std::string output;  // stdout and stderr together
};

Outcome run_sockhost(const std::string &arguments) {
    const std::string command = sockhost_binary().string() + " " + arguments + " 2>&1";
    FILE *pipe = ::popen(command.c_str(), "r");
    std::string output;
    std::array<char, 4096> buffer{};
    while (const std::size_t count = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), count);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(CommandLine, HelpAndVersion) {
    const auto help = run_sockhost("--help");
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.output.find("--config"), std::string::npos) << help.output;
    const auto version = run_sockhost("--version");
    EXPECT_EQ(version.exit_code, 0);
    const std::string abi = std::to_string(SOCKHOST_ABI_MAJOR) + "." + std::to_string(SOCKHOST_ABI_MINOR);
    EXPECT_NE(version.output.find("(plugin ABI " + abi + ")"), std::string::npos) << version.output;
}

TEST(CommandLine, MissingConfigOptionIsAUsageError) {
    const auto outcome = run_sockhost("");
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(outcome.output.find("--config is required"), std::string::npos) << outcome.output;
}

TEST(CommandLine, UnreadableConfigFileIsNamed) {
    const auto outcome = run_sockhost("--config /nonexistent/sockhost.json");
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_NE(outcome.output.find("config /nonexistent/sockhost.json: cannot open: No such file or directory"),
              std::string::npos)
        << outcome.output;
}

TEST(CommandLine, ConfigErrorNamesTheKeyAndNothingStarts) {
    const auto failure = run_expecting_exit(
        {{"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "echo"}, {"mode", "sideways"}}}}},
        {bundled_plugin("echo")});
    EXPECT_EQ(failure.exit_code, 2);
    EXPECT_NE(failure.log.find("listeners[0].mode: unknown mode 'sideways'"), std::string::npos) << failure.log;
    EXPECT_EQ(failure.log.find("listening on"), std::string::npos);
}

TEST(CommandLine, AddressInUseIsNamed) {
    HostUnderTest first({{"listeners", {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "echo"}}}}},
                        {bundled_plugin("echo")});
    ASSERT_TRUE(first.ready()) << first.log();
    const std::string taken = first.listening()[0];
    const auto failure = run_expecting_exit(
        {{"listeners", {{{"listen", taken}, {"plugin", "echo"}, {"reuse_address", false}}}}}, {bundled_plugin("echo")});
    EXPECT_EQ(failure.exit_code, 2);
    EXPECT_NE(failure.log.find(taken + ": address in use"), std::string::npos) << failure.log;
}

}  // namespace
}  // namespace sockhost::test
