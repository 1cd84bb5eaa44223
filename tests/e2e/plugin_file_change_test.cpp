// A plugin file changed under a running generation: copied over in place (what `cp` does,
// and the usual cause of a worker's SIGBUS) or renamed over. The crash line names the
// file that changed; a replacement worker of that generation refuses the changed file
// with a clear error instead of loading it silently; a reload serves the new file.
#include "clients.hpp"
#include "host_under_test.hpp"
#include "temp_dir.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

// The probe in a plugin directory of its own, as a real file (not the tests' usual link
// into the build tree, which changing would change for every other test).
struct OwnPluginDir {
    OwnPluginDir() {
        std::filesystem::create_directories(dir.path() / "plugins");
        std::filesystem::copy_file(test_plugin("probe"), file());
    }
    std::filesystem::path file() const { return dir.path() / "plugins" / "probe.so"; }
    nlohmann::json config() const {
        auto config = probe_on("threading");
        config["plugin_dir"] = (dir.path() / "plugins").string();
        config["strict_modes"] = false;  // the directory is a test's temporary one
        return config;
    }
    TempDir dir;
};

std::string contents(const std::filesystem::path &file) {
    std::ifstream input(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
}

TEST(PluginFileChange, ACopyOverInPlaceIsNamedAtTheCrashRefusedByTheReplacementAndServedAfterAReload) {
    OwnPluginDir plugins;
    HostUnderTest host(plugins.config(), {});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo before\n"), "before\n");
    // As cp does: the same inode truncated and written again (here one byte longer, which
    // leaves the ELF file loadable).
    const std::string bytes = contents(plugins.file());
    std::ofstream(plugins.file(), std::ios::binary | std::ios::trunc) << bytes << '\0';
    // What copying over a mapped file usually ends in is SIGBUS; SIGKILL stands in for it
    // here, since a sanitizer build catches SIGBUS and exits instead of dying by it.
    ASSERT_EQ(::kill(host.worker_pid(), SIGKILL), 0);
    ASSERT_TRUE(host.wait_for_log("killed by signal 9")) << host.log();
    EXPECT_TRUE(host.wait_for_log("plugin file " + plugins.file().string() + " was rewritten in place (" +
                                  std::to_string(bytes.size()) + " bytes then, " + std::to_string(bytes.size() + 1) +
                                  " now) since generation 1 started"))
        << host.log();
    // Its replacement loads nothing it was not started with.
    ASSERT_TRUE(host.wait_for_log("this worker does not load it", 15s)) << host.log();
    EXPECT_EQ(host.log().find("info: loaded plugin", host.log().find("killed by signal 9")), std::string::npos)
        << host.log();
    // A reload reads the configuration, and the file, anew.
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 2 is serving", 20s)) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo after\n"), "after\n");
}

TEST(PluginFileChange, AFileRenamedOverIsAnotherPluginForTheGenerationsReplacements) {
    OwnPluginDir plugins;
    HostUnderTest host(plugins.config(), {});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto staged = plugins.dir.path() / "plugins" / ".probe.so.new";
    std::filesystem::copy_file(test_plugin("probe"), staged);
    std::filesystem::rename(staged, plugins.file());  // the right way to install: a new inode
    ASSERT_EQ(::kill(host.worker_pid(), SIGKILL), 0);
    ASSERT_TRUE(host.wait_for_log("replaced by another file (a new inode) since the supervisor read this "
                                  "generation's configuration; this worker does not load it",
                                  15s))
        << host.log();
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("generation 2 is serving", 20s)) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo renamed\n"), "renamed\n");
}

}  // namespace
}  // namespace sockhost::test
