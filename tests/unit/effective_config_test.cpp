// The effective configuration: the config file, the plugin directory's NAME.so files and
// their NAME.json sidecars, composed the same way by the supervisor and by each worker.
#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/shared/plugin_directory.hpp>

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace {

using namespace sockhost;
using sockhost::test::TempDir;

void write_file(const std::filesystem::path &path, const std::string &text) { std::ofstream(path) << text; }

struct PluginDirFixture : ::testing::Test {
    PluginDirFixture() {
        std::filesystem::create_directories(dir / "plugins");
        write_file(dir / "plugins" / "echo.so", "");
        write_file(dir / "plugins" / "kv.so", "");
    }
    std::filesystem::path config(const std::string &text) {
        write_file(dir / "sockhost.json", text);
        return dir / "sockhost.json";
    }
    TempDir dir;
};

TEST_F(PluginDirFixture, ScanFindsPluginsAndSidecarsAndNotesEverythingElse) {
    write_file(dir / "plugins" / "kv.json", "{}");
    write_file(dir / "plugins" / "orphan.json", "{}");
    write_file(dir / "plugins" / "README.txt", "");
    write_file(dir / "plugins" / ".echo.so.tmp", "");
    std::filesystem::create_directories(dir / "plugins" / "old.so");
    const auto scanned = scan_plugin_directory(dir / "plugins");
    ASSERT_TRUE(scanned) << scanned.error().message;
    ASSERT_EQ(scanned->plugins.size(), 2u);
    EXPECT_EQ(scanned->plugins[0].name, "echo");
    EXPECT_FALSE(scanned->plugins[0].sidecar);
    EXPECT_EQ(scanned->plugins[1].name, "kv");
    EXPECT_EQ(scanned->plugins[1].sidecar, dir / "plugins" / "kv.json");
    std::string notes;
    for (const auto &note : scanned->notes) notes += note + "\n";
    EXPECT_NE(notes.find("README.txt: not a plugin (NAME.so) or a plugin's listeners (NAME.json)"), std::string::npos)
        << notes;
    EXPECT_NE(notes.find(".echo.so.tmp: hidden file"), std::string::npos) << notes;
    EXPECT_NE(notes.find("old.so: a directory, not a plugin"), std::string::npos) << notes;
    EXPECT_NE(notes.find("orphan.json: no plugin orphan.so beside it"), std::string::npos) << notes;
}

TEST_F(PluginDirFixture, MissingDirectoryIsNamed) {
    const auto scanned = scan_plugin_directory(dir / "absent");
    ASSERT_FALSE(scanned);
    EXPECT_NE(scanned.error().message.find("plugin_dir " + (dir / "absent").string() + ": cannot read"),
              std::string::npos);
}

TEST_F(PluginDirFixture, SidecarListenersFollowTheConfigsWithThePluginImplied) {
    write_file(dir / "plugins" / "kv.json", R"({"listeners": [{"listen": "unix:kv.sock", "mode": "threading"}]})");
    const auto effective = read_effective_config(
        config(R"({"plugin_dir": "plugins", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo"}]})"));
    ASSERT_TRUE(effective) << effective.error().message;
    ASSERT_EQ(effective->config.listeners.size(), 2u);
    EXPECT_EQ(effective->config.listeners[1].plugin, "kv");
    EXPECT_EQ(effective->config.listeners[1].address.path, (dir / "plugins" / "kv.sock").string())
        << "relative to the sidecar's directory";
    EXPECT_EQ(effective->config.listeners[1].options.mode, Mode::threading);
}

TEST_F(PluginDirFixture, SnapshotComposesToTheSameConfigAfterTheFilesChange) {
    write_file(dir / "plugins" / "kv.json", R"({"listeners": [{"listen": "unix:kv.sock"}]})");
    const auto effective = read_effective_config(config(R"({"plugin_dir": "plugins", "workers": 3})"));
    ASSERT_TRUE(effective) << effective.error().message;
    std::filesystem::remove(dir / "plugins" / "kv.json");
    config("not even JSON");
    const auto snapshot = ConfigSnapshot::from_json(effective->snapshot.to_json());
    ASSERT_TRUE(snapshot) << snapshot.error().message;
    const auto composed = compose_config(*snapshot);
    ASSERT_TRUE(composed) << composed.error().message;
    EXPECT_EQ(composed->workers, 3);
    ASSERT_EQ(composed->listeners.size(), 1u);
    EXPECT_EQ(composed->listeners[0].plugin, "kv");
}

TEST_F(PluginDirFixture, CompositionErrorsNameTheFileAndTheListener) {
    const std::pair<std::string, std::string> cases[] = {
        {R"({"listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "kv"}]})", ""},
        {R"({"listeners": [{"listen": "tcp://127.0.0.1:0", "bogus": 1}]})",
         "sidecar " + (dir / "plugins" / "kv.json").string() + ": listeners[0].bogus: unknown key"},
        {R"({"listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "other"}]})",
         "listeners[0].plugin: 'other' in the sidecar of plugin 'kv'"},
        {R"({"listeners": [{"listen": "tcp://127.0.0.1:7000"}]})",
         "sidecar " + (dir / "plugins" / "kv.json").string() + ": listeners[0].listen: 'tcp://127.0.0.1:7000' is "
         "already used by config " + (dir / "sockhost.json").string() + ": listeners[0]"},
        {"[1]", "sidecar " + (dir / "plugins" / "kv.json").string() + ": expected a JSON object at the top"},
    };
    const auto file = config(R"({"plugin_dir": "plugins", "listeners": [{"listen": "tcp://127.0.0.1:7000", "plugin": "echo"}]})");
    for (const auto &[sidecar, expected] : cases) {
        write_file(dir / "plugins" / "kv.json", sidecar);
        const auto effective = read_effective_config(file);
        if (expected.empty()) {
            EXPECT_TRUE(effective) << sidecar << ": " << effective.error().message;
            continue;
        }
        ASSERT_FALSE(effective) << sidecar;
        EXPECT_NE(effective.error().message.find(expected), std::string::npos) << effective.error().message;
    }
}

TEST_F(PluginDirFixture, ListenerWithoutItsPluginFileNamesBoth) {
    const auto effective = read_effective_config(
        config(R"({"plugin_dir": "plugins", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "absent"}]})"));
    ASSERT_FALSE(effective);
    EXPECT_NE(effective.error().message.find("listeners[0]: listener tcp://127.0.0.1:0: plugin file " +
                                             (dir / "plugins" / "absent.so").string() + ": file not found"),
              std::string::npos)
        << effective.error().message;
}

TEST_F(PluginDirFixture, NoListenerAnywhereIsAnError) {
    const auto effective = read_effective_config(config(R"({"plugin_dir": "plugins"})"));
    ASSERT_FALSE(effective);
    EXPECT_NE(effective.error().message.find("listeners: at least one listener is needed"), std::string::npos);
}

TEST(InheritedListeners, VariablesForAnotherProcessAreNotTaken) {
    ::setenv("LISTEN_PID", "1", 1);
    ::setenv("LISTEN_FDS", "2", 1);
    ::setenv("LISTEN_FDNAMES", "a:b", 1);
    const auto taken = take_inherited_listeners();
    ASSERT_TRUE(taken) << taken.error().message;
    EXPECT_TRUE(taken->empty());
    EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr) << "cleared either way";
}

TEST(InheritedListeners, BadCountIsAnError) {
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", "many", 1);
    const auto taken = take_inherited_listeners();
    ASSERT_FALSE(taken);
    EXPECT_NE(taken.error().message.find("LISTEN_FDS: 'many' is not a count of fds"), std::string::npos);
}

}  // namespace
