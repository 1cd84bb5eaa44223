// The binary upgraded in place between reloads, as a package manager does it: a new file
// renamed over the old path. The next generation runs the new file; the supervisor keeps
// its own image; clients under load see no error.
#include "client_load.hpp"
#include "host_under_test.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

struct Executable {
    std::string path;  // what /proc/PID/exe names ("... (deleted)" once replaced)
    ino_t inode = 0;   // the file the process runs, replaced or not
};

Executable executable_of(pid_t pid) {
    const std::string link = "/proc/" + std::to_string(pid) + "/exe";
    Executable executable;
    std::error_code error;
    executable.path = std::filesystem::read_symlink(link, error).string();
    struct stat status {};
    if (::stat(link.c_str(), &status) == 0) executable.inode = status.st_ino;
    return executable;
}

ino_t inode_of(const std::filesystem::path &path) {
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0 ? status.st_ino : 0;
}

// A new file with the binary's bytes, renamed over `target`: a new inode at the same path.
void install_binary(const std::filesystem::path &target) {
    const auto temporary = target.parent_path() / ".sockhost.new";
    std::filesystem::copy_file(sockhost_binary(), temporary, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(temporary, target);
}

void wait_until_served(const ClientLoad &load, long at_least) {
    for (int wait = 0; wait < 2000 && load.counts().served < at_least; ++wait) std::this_thread::sleep_for(10ms);
}

TEST(BinaryUpgrade, NextGenerationRunsTheFileRenamedIntoPlaceWhileClientsSeeNoError) {
    const TempDir installed;
    const auto binary = installed / "sockhost";
    std::filesystem::copy_file(sockhost_binary(), binary);
    const ino_t old_inode = inode_of(binary);

    const nlohmann::json config = {
        {"workers", 2},
        {"control_socket", "control.sock"},
        {"listeners",
         {{{"listen", "tcp://127.0.0.1:0"}, {"plugin", "probe"}, {"mode", "threading"}},
          {{"listen", "udp://127.0.0.1:0"}, {"plugin", "probe"}},
          {{"listen", "unix:upgrade.sock"}, {"plugin", "probe"}, {"mode", "threading"}}}}};
    Launch launch;
    launch.binary = binary;
    HostUnderTest host(config, {test_plugin("probe")}, launch);
    ASSERT_TRUE(host.ready()) << host.log();
    const auto old_workers = host.worker_pids();
    ASSERT_EQ(old_workers.size(), 2u);
    for (const pid_t worker : old_workers) {
        EXPECT_EQ(executable_of(worker).path, binary.string());
        EXPECT_EQ(executable_of(worker).inode, old_inode);
    }

    ClientLoad load({host.listening().at(0), host.listening().at(1), host.listening().at(2)}, 4);
    wait_until_served(load, 100);
    install_binary(binary);
    const ino_t new_inode = inode_of(binary);
    ASSERT_NE(new_inode, old_inode);
    EXPECT_EQ(executable_of(old_workers[0]).path, binary.string() + " (deleted)") << "generation 1 runs the old file";

    const auto reloaded = run_sockhost_command("reload -c " + host.config_path().string());
    ASSERT_EQ(reloaded.exit_code, 0) << reloaded.output << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited", 30s)) << host.log();
    const long served_after_reload = load.counts().served;
    wait_until_served(load, served_after_reload + 100);
    load.stop();

    const auto new_workers = host.worker_pids();
    ASSERT_EQ(new_workers.size(), 2u) << host.log();
    for (const pid_t worker : new_workers) {
        const Executable running = executable_of(worker);
        EXPECT_EQ(running.path, binary.string()) << "generation 2 runs the file now installed";
        EXPECT_EQ(running.inode, new_inode);
    }
    const Executable supervisor = executable_of(host.pid());
    EXPECT_EQ(supervisor.path, binary.string() + " (deleted)") << "the supervisor keeps its image";
    EXPECT_EQ(supervisor.inode, old_inode);

    const LoadCounts counts = load.counts();
    EXPECT_EQ(counts.errors(), 0) << counts.describe();
    EXPECT_GT(counts.served, served_after_reload) << "generation 2 served: " << counts.describe();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

}  // namespace
}  // namespace sockhost::test
