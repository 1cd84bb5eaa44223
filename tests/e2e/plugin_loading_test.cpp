// Each way a plugin can fail to load is one clear line naming the file and the reason,
// and the host does not start half-configured: no listener is left serving.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <sockhost/plugin.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

namespace sockhost::test {
namespace {

const std::string kHostAbi = "1." + std::to_string(SOCKHOST_ABI_MINOR);

// A config with a good listener first, then one using `plugin`: the good one must not
// end up serving when the bad one fails.
nlohmann::json config_with(const std::string &plugin, const nlohmann::json &plugin_config = nlohmann::json::object()) {
    return {{"listeners",
             {{{"listen", "unix:good.sock"}, {"plugin", "probe"}},
              {{"listen", "tcp://127.0.0.1:0"}, {"plugin", plugin}, {"config", plugin_config}}}}};
}

// The start-up failure is one error line holding `reason` (which names the file).
void expect_refused(const StartFailure &failure, const std::string &reason) {
    EXPECT_EQ(failure.exit_code, 2) << failure.log;
    const auto found = failure.log.find(reason);
    ASSERT_NE(found, std::string::npos) << failure.log;
    const auto line_start = failure.log.rfind('\n', found) + 1;
    const std::string line = failure.log.substr(line_start, failure.log.find('\n', found) - line_start);
    EXPECT_NE(line.find(" error: "), std::string::npos) << line;
    EXPECT_NE(line.find("; not started"), std::string::npos) << line;
    EXPECT_EQ(failure.log.find("listening on"), std::string::npos) << "nothing served: " << failure.log;
    EXPECT_EQ(failure.log.find("ready"), std::string::npos) << failure.log;
}

TEST(PluginLoading, MissingFile) {
    const auto failure = run_expecting_exit(config_with("absent"), {test_plugin("probe")});
    expect_refused(failure, "absent.so: file not found");
}

TEST(PluginLoading, NotASharedObject) {
    TempDir scratch;
    const auto fake = scratch / "notelf.so";
    std::ofstream(fake) << "#!/bin/sh\necho this is not a plugin\n";
    const auto failure = run_expecting_exit(config_with("notelf"), {test_plugin("probe"), fake});
    expect_refused(failure, "notelf.so: not a shared object (no ELF header)");
}

TEST(PluginLoading, ElfButNotSharedObject) {
    TempDir scratch;
    const auto relocatable = scratch / "relocatable.so";
    std::filesystem::copy_file(SOCKHOST_TEST_RELOCATABLE_OBJECT, relocatable);
    const auto failure = run_expecting_exit(config_with("relocatable"), {test_plugin("probe"), relocatable});
    expect_refused(failure, "relocatable.so: an ELF file but not a shared object");
}

TEST(PluginLoading, ExecutableIsALoadError) {
    // The sockhost executable itself: an ELF file the dynamic loader refuses to load.
    TempDir scratch;
    const auto executable = scratch / "executable.so";
    std::filesystem::copy_file(sockhost_binary(), executable);
    const auto failure = run_expecting_exit(config_with("executable"), {test_plugin("probe"), executable});
    expect_refused(failure, "executable.so: cannot load: ");
}

TEST(PluginLoading, UnresolvedSymbolIsALoadError) {
    const auto failure = run_expecting_exit(config_with("bad_undefined_symbol"),
                                            {test_plugin("probe"), test_plugin("bad_undefined_symbol")});
    expect_refused(failure, "cannot load: ");
    EXPECT_NE(failure.log.find("sockhost_test_function_that_does_not_exist"), std::string::npos) << failure.log;
}

TEST(PluginLoading, EntrySymbolMissing) {
    const auto failure =
        run_expecting_exit(config_with("bad_no_entry"), {test_plugin("probe"), test_plugin("bad_no_entry")});
    expect_refused(failure, "bad_no_entry.so: entry symbol 'sockhost_plugin_entry' not found (a C++ plugin defines it "
                            "with SOCKHOST_PLUGIN; one written by hand needs extern \"C\" and SOCKHOST_EXPORT)");
}

TEST(PluginLoading, DifferentMajorVersion) {
    const auto failure =
        run_expecting_exit(config_with("bad_major_version"), {test_plugin("probe"), test_plugin("bad_major_version")});
    expect_refused(failure, "incompatible ABI major version: plugin ABI 2.0, host ABI " + kHostAbi);
}

TEST(PluginLoading, NewerMinorVersion) {
    const auto failure =
        run_expecting_exit(config_with("bad_newer_minor"), {test_plugin("probe"), test_plugin("bad_newer_minor")});
    expect_refused(failure, "plugin needs a newer host: plugin ABI 1." + std::to_string(SOCKHOST_ABI_MINOR + 1) +
                                ", host ABI " + kHostAbi);
}

// A plugin built against an older minor (1.0) keeps loading, and is served.
TEST(PluginLoading, OlderMinorVersionIsServed) {
    HostUnderTest host(config_with("older_minor"), {test_plugin("probe"), test_plugin("older_minor")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_NE(host.log().find("older_minor.so: bad_descriptor 1, ABI 1.0"), std::string::npos) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[1], "anything\n"), "");  // its handle answers nothing
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(PluginLoading, DescriptorWithoutHandle) {
    const auto failure =
        run_expecting_exit(config_with("bad_no_handle"), {test_plugin("probe"), test_plugin("bad_no_handle")});
    expect_refused(failure, "bad_no_handle.so: descriptor has no handle hook");
}

TEST(PluginLoading, CreateRejectsItsConfigWithThePluginsMessage) {
    const auto failure = run_expecting_exit(config_with("probe", {{"colour", "blue"}}), {test_plugin("probe")});
    expect_refused(failure, "probe.so: rejected its config: unknown config key 'colour'");
    EXPECT_NE(failure.log.find("listener tcp://127.0.0.1:0: plugin "), std::string::npos)
        << "the line names the listener too: " << failure.log;
}

TEST(PluginLoading, PluginThatDoesNotServeTheTransport) {
    nlohmann::json config = {{"listeners", {{{"listen", "udp://127.0.0.1:0"}, {"plugin", "http"}}}}};
    const auto failure = run_expecting_exit(config, {bundled_plugin("http")});
    EXPECT_EQ(failure.exit_code, 2) << failure.log;
    EXPECT_NE(failure.log.find("listener udp://127.0.0.1:0: plugin 'http' does not serve udp"), std::string::npos)
        << failure.log;
}

}  // namespace
}  // namespace sockhost::test
