// Hot reload as an operator sees it: `sockhost reload` reports the outcome, a slow
// request finishes on the old generation, a broken plugin changes nothing, a plugin
// replaced by rename is live after the next reload, sidecars add and remove listeners,
// a hung connection is cut at the drain deadline, nothing leaks, listeners are kept.
#include "clients.hpp"
#include "host_under_test.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>
#include <future>
#include <iostream>
#include <regex>
#include <set>
#include <thread>

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json probe_listener(const std::string &listen = "tcp://127.0.0.1:0", const char *mode = "threading") {
    return {{"listen", listen}, {"plugin", "probe"}, {"mode", mode}, {"config", {{"log_hooks", true}}}};
}

nlohmann::json with_control(nlohmann::json listeners) {
    return {{"control_socket", "control.sock"}, {"listeners", std::move(listeners)}};
}

CommandOutcome reload(const HostUnderTest &host) { return run_sockhost_command("reload -c " + host.config_path().string()); }

// The operator's way: a temporary file in the same directory, renamed into place.
void install_file(const std::filesystem::path &source, const std::filesystem::path &target) {
    const auto temporary = target.parent_path() / ("." + target.filename().string() + ".tmp");
    std::filesystem::copy_file(source, temporary, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(temporary, target);
}

void write_file(const std::filesystem::path &path, const std::string &text) { std::ofstream(path) << text; }


std::string fd_targets(pid_t pid) {
    std::string text;
    for (const auto &entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        std::error_code error;
        text += entry.path().filename().string() + "->" + std::filesystem::read_symlink(entry.path(), error).string() + " ";
    }
    return text;
}

ino_t inode_of(const std::string &path) {
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0 ? status.st_ino : 0;
}

// Sets sanitizer options for the processes started while it lives: a worker killed by
// SIGSEGV from outside is not a sanitizer finding.
class SanitizerSegvPassThrough {
public:
    SanitizerSegvPassThrough() {
        for (const char *name : {"ASAN_OPTIONS", "TSAN_OPTIONS"}) {
            const char *value = std::getenv(name);
            saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
            ::setenv(name, ((value ? std::string(value) + ":" : std::string()) + "handle_segv=0").c_str(), 1);
        }
    }
    ~SanitizerSegvPassThrough() {
        for (const auto &[name, value] : saved_) {
            if (value) ::setenv(name.c_str(), value->c_str(), 1);
            else ::unsetenv(name.c_str());
        }
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(Reload, SlowRequestFinishesOnTheOldGenerationAndLaterRequestsReachTheNew) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string old_worker = stream_exchange(host.listening()[0], "pid\n");
    UniqueFd slow = connect_stream(host.listening()[0]);
    send_all(slow.get(), "sleep 1500\n");
    ASSERT_TRUE(host.wait_for_log(" sleeping ")) << host.log();

    const auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find("reload: generation 2 is serving 1 listener(s)"), std::string::npos) << outcome.output;
    const std::string new_worker = stream_exchange(host.listening()[0], "pid\n");
    EXPECT_NE(new_worker, old_worker) << "answered by generation 2";
    EXPECT_FALSE(new_worker.empty());
    EXPECT_EQ(read_line(slow.get()), "slept\n") << "the old generation finished the slow request";
    EXPECT_EQ(read_until_eof(slow.get()), "") << "then closed the connection";
    EXPECT_TRUE(host.wait_for_log("generation 1 has exited")) << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, BrokenPluginFailsTheReloadWithItsReasonAndNothingChanges) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string worker = stream_exchange(host.listening()[0], "pid\n");

    // A plugin that does not load, with a sidecar that uses it.
    install_file(test_plugin("bad_no_entry"), host.plugin_dir() / "bad_no_entry.so");
    write_file(host.plugin_dir() / "bad_no_entry.json", R"({"listeners": [{"listen": "tcp://127.0.0.1:0"}]})");
    auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("reload failed: "), std::string::npos) << outcome.output;
    EXPECT_NE(outcome.output.find("bad_no_entry.so: entry symbol 'sockhost_plugin_entry' not found"), std::string::npos)
        << outcome.output;
    EXPECT_TRUE(host.wait_for_log("; generation 1 keeps serving")) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "pid\n"), worker) << "generation 1 still serves";

    // A sidecar that is not JSON fails before any worker starts.
    std::filesystem::remove(host.plugin_dir() / "bad_no_entry.so");
    install_file(test_plugin("probe"), host.plugin_dir() / "extra.so");
    write_file(host.plugin_dir() / "extra.json", "{not json");
    outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("extra.json: not valid JSON"), std::string::npos) << outcome.output;

    // Fixed: the next reload succeeds.
    std::filesystem::remove(host.plugin_dir() / "extra.json");
    outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(stream_exchange(host.listening()[0], "pid\n"), worker);
    EXPECT_TRUE(host.wait_for_log("ignoring " + (host.plugin_dir() / "bad_no_entry.json").string() +
                                  ": no plugin bad_no_entry.so beside it"))
        << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// Input the JSON library refuses by throwing, rather than by a parse error: a number
// beyond a double's range, and a listener `config` nested 70,000 levels (whose text is
// written again for the worker). Each is a failed reload; the supervisor and generation 1
// serve on, and --check refuses both.
TEST(Reload, NumberBeyondADoubleAndDeepNestingFailTheReloadAndTheHostServesOn) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string worker = stream_exchange(host.listening()[0], "pid\n");
    std::ostringstream good_text;
    good_text << std::ifstream(host.config_path()).rdbuf();
    const std::string good = good_text.str();

    install_file(test_plugin("probe"), host.plugin_dir() / "extra.so");
    write_file(host.plugin_dir() / "extra.json", R"({"listeners": [{"listen": "tcp://127.0.0.1:0", "timeout": 1e400}]})");
    auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("extra.json: not valid JSON"), std::string::npos) << outcome.output;
    std::filesystem::remove(host.plugin_dir() / "extra.json");

    auto overflowing = nlohmann::json::parse(good);
    overflowing["drain_timeout"] = "DRAIN";
    std::string text = overflowing.dump();
    text.replace(text.find("\"DRAIN\""), 7, "1e400");
    write_file(host.config_path(), text);
    outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("not valid JSON"), std::string::npos) << outcome.output;
    EXPECT_EQ(run_sockhost_command("--check -c " + host.config_path().string()).exit_code, 2);

    auto nested = nlohmann::json::parse(good);
    nested["listeners"][0]["config"] = "NESTED";
    text = nested.dump();
    text.replace(text.find("\"NESTED\""), 8, std::string(70000, '[') + std::string(70000, ']'));
    write_file(host.config_path(), text);
    outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("nested deeper than"), std::string::npos) << outcome.output;
    EXPECT_EQ(run_sockhost_command("--check -c " + host.config_path().string()).exit_code, 2);

    EXPECT_EQ(stream_exchange(host.listening()[0], "pid\n"), worker) << "generation 1 still serves";
    write_file(host.config_path(), good);
    EXPECT_EQ(reload(host).exit_code, 0) << "the supervisor answers: it is alive";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, NewListenerThatCannotBindFailsTheReloadAndBindsNothing) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    HostUnderTest occupant({{"listeners", {probe_listener()}}}, {test_plugin("probe")});
    ASSERT_TRUE(occupant.ready()) << occupant.log();
    const std::string taken = occupant.listening()[0];
    const int fds = open_fd_count(host.pid());
    // Two new listeners: the first binds, the second cannot; neither may stay bound.
    install_file(test_plugin("probe"), host.plugin_dir() / "extra.so");
    write_file(host.plugin_dir() / "extra.json",
               nlohmann::json{{"listeners",
                               {{{"listen", "unix:extra.sock"}}, {{"listen", taken}, {"reuse_address", false}}}}}
                   .dump());
    const auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find(taken + ": address in use"), std::string::npos) << outcome.output;
    EXPECT_FALSE(std::filesystem::exists(host.plugin_dir() / "extra.sock")) << "the listener bound first was closed";
    EXPECT_EQ(open_fd_count(host.pid()), fds);
    EXPECT_FALSE(stream_exchange(host.listening()[0], "pid\n").empty()) << "generation 1 serves on";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, PluginReplacedByRenameIsLiveAfterTheNextReload) {
    TempDir scratch;
    std::filesystem::copy_file(test_plugin("probe"), scratch / "service.so");
    nlohmann::json listener = {{"listen", "unix:service.sock"}, {"plugin", "service"}};
    HostUnderTest host(with_control({listener}), {scratch / "service.so"});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string address = host.listening()[0];
    const std::string probe_pid = stream_exchange(address, "pid\n");
    ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(probe_pid.front()))) << probe_pid;

    install_file(bundled_plugin("echo"), host.plugin_dir() / "service.so");
    EXPECT_EQ(stream_exchange(address, "pid\n"), probe_pid) << "the running generation keeps its plugin";
    const auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_EQ(stream_exchange(address, "pid\n"), "pid\n") << "now the echo plugin answers";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, SidecarAddsAListenerAndRemovingItClosesItAfterTheDrain) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe"), bundled_plugin("echo")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto side_path = host.plugin_dir() / "side.sock";
    write_file(host.plugin_dir() / "README.txt", "notes for the operator\n");
    write_file(host.plugin_dir() / "echo.json", R"({"listeners": [{"listen": "unix:side.sock"}]})");
    auto outcome = reload(host);
    ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find("2 listener(s)"), std::string::npos) << outcome.output;
    EXPECT_EQ(stream_exchange("unix:" + side_path.string(), "hello"), "hello");
    EXPECT_TRUE(host.wait_for_log("ignoring " + (host.plugin_dir() / "README.txt").string() + ": not a plugin"))
        << host.log();

    std::filesystem::remove(host.plugin_dir() / "echo.json");
    outcome = reload(host);
    ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_TRUE(host.wait_for_log("closed listener unix:" + side_path.string() + ": no longer configured")) << host.log();
    // The line is logged as the listener closes; the file goes right after it.
    for (int waited = 0; waited < 100 && std::filesystem::exists(side_path); ++waited)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(std::filesystem::exists(side_path)) << "the supervisor removed the socket file it created";
    EXPECT_THROW(connect_stream("unix:" + side_path.string()), std::runtime_error);
    EXPECT_FALSE(stream_exchange(host.listening()[0], "pid\n").empty()) << "the main listener serves on";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, HungConnectionIsCutAtTheDrainDeadlineAndNothingLeaksOrIsRebound) {
    auto config = with_control({probe_listener(), probe_listener("unix:kept.sock")});
    config["drain_timeout"] = 0.5;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const int supervisor_fds = open_fd_count(host.pid());
    const std::string fds_before = fd_targets(host.pid());
    const auto listener_inodes = sockets_but_handoff_channels(host.pid());
    const auto unix_path = host.listening()[1].substr(5);
    const auto path_inode = inode_of(unix_path);

    UniqueFd hung = connect_stream(host.listening()[0]);
    send_all(hung.get(), "sleep 600000\n");
    ASSERT_TRUE(host.wait_for_log(" sleeping ")) << host.log();
    for (int round = 0; round < 5; ++round) {
        const auto outcome = reload(host);
        ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
        EXPECT_EQ(stream_exchange(host.listening()[1], "echo still\n"), "still\n");
        // Generation 1 is held by the hung request; the others have nothing to drain. (At
        // most a few generations may drain at once: the oldest would be cut short.)
        if (round > 0) {
            EXPECT_TRUE(host.wait_for_log("generation " + std::to_string(round + 1) + " has exited"));
        }
    }
    EXPECT_EQ(read_until_eof(hung.get()), "") << "cut at generation 1's drain deadline";
    EXPECT_TRUE(host.wait_for_log("still in flight at the stop deadline")) << host.log();
    for (int wait = 0; wait < 500 && count_of(host.log(), " has exited") < 5; ++wait) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(count_of(host.log(), " has exited"), 5) << host.log();

    // The last worker's status pipe closes just after it reported READY: allow a moment.
    for (int wait = 0; wait < 200 && open_fd_count(host.pid()) != supervisor_fds; ++wait) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(open_fd_count(host.pid()), supervisor_fds)
        << "the supervisor holds what it held before the reloads: " << fd_targets(host.pid()) << " before: " << fds_before;
    EXPECT_EQ(sockets_but_handoff_channels(host.pid()), listener_inodes) << "the same listening sockets: none was re-bound";
    EXPECT_EQ(socket_inodes(host.pid()).size(), listener_inodes.size() + 1) << "and one handoff channel, to the worker";
    EXPECT_EQ(host.worker_pids().size(), 1u) << "only generation 6's worker is left";
    EXPECT_FALSE(has_zombie_children(host.pid()));
    EXPECT_EQ(inode_of(unix_path), path_inode) << "the same socket file: never unlinked or re-bound";
    EXPECT_EQ(stream_exchange(host.listening()[1], "echo kept\n"), "kept\n");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    EXPECT_FALSE(std::filesystem::exists(unix_path)) << "removed when the supervisor stopped";
}

TEST(Reload, KilledWorkerIsReplacedAndTheOtherWorkerServesOn) {
    SanitizerSegvPassThrough segv_is_expected;
    auto config = with_control({probe_listener()});
    config["workers"] = 2;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    // Keep-alive connections until one is served by each worker.
    std::map<std::string, UniqueFd> by_worker;
    for (int attempt = 0; attempt < 200 && by_worker.size() < 2; ++attempt) {
        UniqueFd connection = connect_stream(host.listening()[0]);
        send_all(connection.get(), "pid\n");
        const std::string pid = read_line(connection.get());
        if (!by_worker.contains(pid)) by_worker.emplace(pid, std::move(connection));
    }
    ASSERT_EQ(by_worker.size(), 2u);
    const pid_t victim = std::stoi(by_worker.begin()->first);
    UniqueFd &survivor = std::next(by_worker.begin())->second;

    ::kill(victim, SIGSEGV);
    // The line may name where it died ("... (Segmentation fault) in handle for peer ...;"):
    // the kill can land while its request runs plugin code between two host calls.
    EXPECT_TRUE(host.wait_for_log("(pid " + std::to_string(victim) + ") killed by signal 11 (Segmentation fault)"))
        << host.log();
    EXPECT_TRUE(host.wait_for_log("; starting a replacement")) << host.log();
    EXPECT_TRUE(host.wait_for_log(" replaced (pid ")) << host.log();
    send_all(survivor.get(), "echo unaffected\n");
    EXPECT_EQ(read_line(survivor.get()), "unaffected\n") << "the other worker's client saw nothing";
    for (int round = 0; round < 20; ++round) EXPECT_EQ(stream_exchange(host.listening()[0], "echo new\n"), "new\n");
    const auto workers = host.worker_pids();
    EXPECT_EQ(workers.size(), 2u);
    EXPECT_EQ(std::count(workers.begin(), workers.end(), victim), 0);
    by_worker.clear();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// A worker that keeps dying soon after its start is replaced after 1 s, then 2 s, then
// 4 s (capped), not every second forever; each line names what the worker served.
TEST(Reload, CrashLoopBacksOffAndNamesThePluginAndListener) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto replacements = [&] { return count_of(host.log(), " replaced (pid "); };
    for (int exit = 1; exit <= 3; ++exit) {
        const pid_t victim = host.worker_pid();
        ASSERT_GT(victim, 0);
        ::kill(victim, SIGKILL);
        const std::string delay = std::to_string(1 << (exit - 1));
        EXPECT_TRUE(host.wait_for_log("(pid " + std::to_string(victim) + ") killed by signal 9 (Killed); starting a "
                                      "replacement in " + delay + " s (exit " + std::to_string(exit) +
                                      " in a row within 10 s of its start); it served plugin probe on " +
                                      host.listening()[0]))
            << host.log();
        for (int waited = 0; waited < 200 && replacements() < exit; ++waited)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_EQ(replacements(), exit) << host.log();
    }
    EXPECT_EQ(stream_exchange(host.listening()[0], "echo served\n"), "served\n");
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// Once `sockhost reload` has answered, the old generation accepts nothing: every
// connection opened afterwards is served by the new generation's worker.
TEST(Reload, EveryConnectionAfterTheAnswerReachesTheNewGeneration) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    for (int round = 0; round < 3; ++round) {
        const std::string old_worker = stream_exchange(host.listening()[0], "pid\n");
        ASSERT_EQ(reload(host).exit_code, 0);
        const std::string new_worker = stream_exchange(host.listening()[0], "pid\n");
        EXPECT_NE(new_worker, old_worker);
        for (int connection = 0; connection < 30; ++connection)
            EXPECT_EQ(stream_exchange(host.listening()[0], "pid\n"), new_worker) << "round " << round;
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// At most four generations drain at once: a fifth cuts the oldest short (documented).
TEST(Reload, AFifthDrainingGenerationCutsTheOldestShort) {
    auto config = with_control({probe_listener()});
    config["drain_timeout"] = 60;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<UniqueFd> held;  // one request in flight in each generation keeps it draining
    for (int generation = 1; generation <= 5; ++generation) {
        held.push_back(connect_stream(host.listening()[0]));
        send_all(held.back().get(), "sleep 60000\n");
        for (int waited = 0; waited < 200 && count_of(host.log(), " sleeping 60000 ms") < generation; ++waited)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_EQ(count_of(host.log(), " sleeping 60000 ms"), generation) << host.log();
        ASSERT_EQ(reload(host).exit_code, 0) << host.log();
        if (generation < 5) {
            EXPECT_EQ(host.log().find("generations draining; stopping it now"), std::string::npos) << generation;
        }
    }
    EXPECT_TRUE(host.wait_for_log("generation 1: more than 4 generations draining; stopping it now")) << host.log();
    EXPECT_TRUE(host.wait_for_log("generation 1 has exited")) << host.log();
    EXPECT_EQ(host.log().find("generation 2 has exited"), std::string::npos) << "the others drain on";
    held.clear();
    EXPECT_EQ(host.stop(SIGINT), 0) << host.log();
}

// A generation already cut short that has not exited yet (its request is stuck in plugin
// code, so it lives until it is killed 5 s later) is not cut again: the next reload cuts
// the oldest one that still drains.
TEST(Reload, EachCutTakesTheOldestGenerationNotCutYet) {
    auto listener = probe_listener();
    listener["stuck_limit"] = 0;
    auto config = with_control({listener});
    config["drain_timeout"] = 60;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::vector<UniqueFd> held;  // a request spinning in each generation keeps it alive
    for (int generation = 1; generation <= 6; ++generation) {
        held.push_back(connect_stream(host.listening()[0]));
        send_all(held.back().get(), "spin-forever\n");
        ASSERT_EQ(read_line(held.back().get()), "spinning\n");
        // The test shows something only while generation 1, cut, waits out its grace.
        ASSERT_EQ(host.log().find("generation 1 has exited"), std::string::npos) << host.log();
        ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    }
    EXPECT_TRUE(host.wait_for_log("generation 2: more than 4 generations draining; stopping it now")) << host.log();
    EXPECT_EQ(count_of(host.log(), "generation 1: more than 4 generations draining"), 1) << host.log();
    held.clear();
    EXPECT_EQ(host.stop(SIGKILL), 128 + SIGKILL);
}

TEST(Reload, CheckValidatesTheConfigAndLoadsEveryPlugin) {
    TempDir dir;
    std::filesystem::create_directories(dir / "plugins");
    std::filesystem::create_symlink(test_plugin("probe"), dir / "plugins" / "probe.so");
    const nlohmann::json config = {{"plugin_dir", "plugins"}, {"listeners", {probe_listener()}}};
    write_file(dir / "good.json", config.dump());
    auto outcome = run_sockhost_command("--check -c " + (dir / "good.json").string());
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find("is valid: 1 listener(s), 1 plugin(s) load"), std::string::npos) << outcome.output;
    EXPECT_EQ(outcome.output.find("listening on"), std::string::npos) << "nothing is served";

    // A broken plugin that no listener uses yet: --check loads it all the same.
    std::filesystem::create_symlink(test_plugin("bad_no_entry"), dir / "plugins" / "bad_no_entry.so");
    outcome = run_sockhost_command("--check -c " + (dir / "good.json").string());
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("check failed: "), std::string::npos) << outcome.output;
    EXPECT_NE(outcome.output.find("bad_no_entry.so: entry symbol 'sockhost_plugin_entry' not found"), std::string::npos)
        << outcome.output;

    nlohmann::json bad = config;
    bad["listeners"][0]["plugin"] = "missing";
    write_file(dir / "bad.json", bad.dump());
    outcome = run_sockhost_command("--check -c " + (dir / "bad.json").string());
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("listeners[0]: listener tcp://127.0.0.1:0: plugin file " +
                                  (dir / "plugins" / "missing.so").string() + ": file not found"),
              std::string::npos)
        << outcome.output;
}

// --check refuses what a start would fail on at bind: a host that does not resolve, and two
// listeners written differently that would bind one address (one would get nothing).
TEST(Reload, CheckRefusesAnUnresolvableHostAndListenersThatBindOneAddress) {
    TempDir dir;
    std::filesystem::create_directories(dir / "plugins");
    std::filesystem::create_symlink(test_plugin("probe"), dir / "plugins" / "probe.so");
    nlohmann::json config = {{"plugin_dir", "plugins"}, {"listeners", {probe_listener()}}};
    config["listeners"][0]["listen"] = "tcp://no-such-host.invalid:8080";
    write_file(dir / "unresolvable.json", config.dump());
    auto outcome = run_sockhost_command("--check -c " + (dir / "unresolvable.json").string());
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("'tcp://no-such-host.invalid:8080': cannot resolve host"), std::string::npos)
        << outcome.output;

    const int port = 8080;  // nothing is bound: any port will do
    config["listeners"][0]["listen"] = "tcp://127.0.0.1:" + std::to_string(port);
    config["listeners"].push_back(config["listeners"][0]);
    config["listeners"][1]["listen"] = "tcp://localhost:" + std::to_string(port);
    write_file(dir / "overlapping.json", config.dump());
    outcome = run_sockhost_command("--check -c " + (dir / "overlapping.json").string());
    EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
    EXPECT_NE(outcome.output.find("listener tcp://localhost:" + std::to_string(port) + ": binds 127.0.0.1:" +
                                  std::to_string(port) + ", which listener tcp://127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << outcome.output;
}

// --check never says "valid" unless the loading child said it finished: a plugin whose
// constructor exits the process (status 0), crashes or hangs fails the check, and the
// message names the plugin file. A hang is cut at ready_timeout, as a worker's start is.
TEST(Reload, CheckFailsNamingAPluginThatExitsCrashesOrHangsWhileLoading) {
    for (const std::string misbehaviour : {"exit", "crash", "hang"}) {
        TempDir dir;
        std::filesystem::create_directories(dir / "plugins");
        const auto plugin = dir / "plugins" / ("bad_" + misbehaviour + "_while_loading.so");
        std::filesystem::create_symlink(test_plugin("probe"), dir / "plugins" / "probe.so");
        std::filesystem::create_symlink(test_plugin("bad_" + misbehaviour + "_while_loading"), plugin);
        const nlohmann::json config = {{"plugin_dir", "plugins"}, {"ready_timeout", 1}, {"listeners", {probe_listener()}}};
        write_file(dir / "sockhost.json", config.dump());
        const auto started = std::chrono::steady_clock::now();
        const auto outcome = run_sockhost_command("--check -c " + (dir / "sockhost.json").string());
        EXPECT_EQ(outcome.exit_code, 2) << misbehaviour << "\n" << outcome.output;
        EXPECT_EQ(outcome.output.find("is valid"), std::string::npos) << outcome.output;
        EXPECT_NE(outcome.output.find("check failed: plugin " + plugin.string() + " (loading): "), std::string::npos)
            << outcome.output;
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10)) << "bounded by ready_timeout";
    }
}

// --check catches what a start would fail on before any plugin runs.
TEST(Reload, CheckRefusesMissingDirectoriesAndAZeroReadyTimeout) {
    TempDir dir;
    std::filesystem::create_directories(dir / "plugins");
    std::filesystem::create_symlink(test_plugin("probe"), dir / "plugins" / "probe.so");
    for (const auto &[key, value, expected] :
         std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
             {"control_socket", "missing/control.sock", "control_socket " + (dir / "missing/control.sock").string() +
                                                            ": directory " + (dir / "missing").string() + " does not exist"},
             {"pid_file", "missing/sockhost.pid", "pid_file " + (dir / "missing/sockhost.pid").string() +
                                                      ": directory " + (dir / "missing").string() + " does not exist"},
             {"ready_timeout", 0, "ready_timeout: 0 leaves a new generation no time to start"}}) {
        nlohmann::json config = {{"plugin_dir", "plugins"}, {"listeners", {probe_listener()}}};
        config[key] = value;
        write_file(dir / "sockhost.json", config.dump());
        const auto outcome = run_sockhost_command("--check -c " + (dir / "sockhost.json").string());
        EXPECT_EQ(outcome.exit_code, 2) << key << "\n" << outcome.output;
        EXPECT_NE(outcome.output.find(expected), std::string::npos) << outcome.output;
    }
}

// Another user's `sockhost reload` meets the control socket's permissions: the message
// says so, and does not suggest that the host is not running.
TEST(Reload, ReloadByAnotherUserSaysPermissionDenied) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    TempDir readable;
    std::filesystem::permissions(readable.path(), std::filesystem::perms::all);
    auto config = nlohmann::json::parse(std::ifstream(host.config_path()));
    config["plugin_dir"] = host.plugin_dir().string();
    config["control_socket"] = (host.dir() / "control.sock").string();
    write_file(readable / "sockhost.json", config.dump());
    std::filesystem::permissions(readable / "sockhost.json", std::filesystem::perms::all);
    const auto outcome = run_sockhost_command("reload -c " + (readable / "sockhost.json").string(),
                                              "setpriv --reuid=65534 --regid=65534 --clear-groups");
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("permission denied: the control socket (mode 0600) is for the user the supervisor runs as"),
              std::string::npos)
        << outcome.output;
    EXPECT_EQ(outcome.output.find("is sockhost running"), std::string::npos) << outcome.output;
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, ReloadWithoutARunningSupervisorIsAClearError) {
    TempDir dir;
    write_file(dir / "sockhost.json", R"({"plugin_dir": ".", "control_socket": "control.sock", "listeners": []})");
    auto outcome = run_sockhost_command("reload -c " + (dir / "sockhost.json").string());
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("control socket " + (dir / "control.sock").string() +
                                  ": cannot reach the supervisor (No such file or directory); is sockhost running"),
              std::string::npos)
        << outcome.output;

    write_file(dir / "plain.json", R"({"plugin_dir": ".", "listeners": []})");
    outcome = run_sockhost_command("reload -c " + (dir / "plain.json").string());
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("has no control_socket"), std::string::npos) << outcome.output;
}

// A second listener whose plugin instance takes `init_ms` to start (probe's init_sleep_ms).
void add_slow_listener(const HostUnderTest &host, int init_ms) {
    install_file(test_plugin("probe"), host.plugin_dir() / "slow.so");
    write_file(host.plugin_dir() / "slow.json",
               nlohmann::json{{"listeners",
                               {{{"listen", "tcp://127.0.0.1:0"}, {"config", {{"init_sleep_ms", init_ms}}}}}}}
                   .dump());
}

TEST(Reload, GenerationNotReadyInTimeIsStoppedAndTheOldOneServesOn) {
    auto config = with_control({probe_listener()});
    config["ready_timeout"] = 0.5;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string worker = stream_exchange(host.listening()[0], "pid\n");
    add_slow_listener(host, 60000);
    const auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
    EXPECT_NE(outcome.output.find("generation 2 was not READY within ready_timeout (500 ms)"), std::string::npos)
        << outcome.output;
    EXPECT_TRUE(host.wait_for_log("; generation 1 keeps serving")) << host.log();
    EXPECT_EQ(stream_exchange(host.listening()[0], "pid\n"), worker);
    for (int wait = 0; wait < 200 && host.worker_pids().size() != 1; ++wait) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(host.worker_pids().size(), 1u) << "generation 2's worker was stopped";
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, ReloadsRequestedDuringAReloadAreCoalescedIntoOneMore) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    add_slow_listener(host, 700);
    auto first = std::async(std::launch::async, [&] { return reload(host); });
    ASSERT_TRUE(host.wait_for_log("reload: generation 2 starting")) << host.log();
    ::kill(host.pid(), SIGHUP);
    ASSERT_TRUE(host.wait_for_log("reload requested while generation 2 is starting")) << host.log();
    auto second = std::async(std::launch::async, [&] { return reload(host); });
    const auto first_outcome = first.get();
    const auto second_outcome = second.get();
    EXPECT_EQ(first_outcome.exit_code, 0) << first_outcome.output;
    EXPECT_NE(first_outcome.output.find("generation 2 is serving"), std::string::npos) << first_outcome.output;
    EXPECT_EQ(second_outcome.exit_code, 0) << second_outcome.output;
    EXPECT_NE(second_outcome.output.find("generation 3 is serving"), std::string::npos)
        << "SIGHUP and the second request became one reload: " << second_outcome.output;
    EXPECT_EQ(host.log().find("generation 4"), std::string::npos) << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// The backlog of the TCP listener on `port`, as `ss` reports it (its Send-Q column).
int listen_backlog(std::uint16_t port) {
    FILE *pipe = ::popen(("ss -ltnH 'sport = :" + std::to_string(port) + "'").c_str(), "r");
    char line[512] = {};
    const bool read = std::fgets(line, sizeof line, pipe) != nullptr;
    ::pclose(pipe);
    if (!read) return -1;
    std::istringstream columns(line);
    std::string state;
    int receive_queue = 0, send_queue = -1;
    columns >> state >> receive_queue >> send_queue;
    return send_queue;
}

TEST(Reload, KeptListenerTakesANewBacklogAndWarnsAboutOptionsFixedAtBind) {
    auto listener = probe_listener();
    listener["request_queue_size"] = 16;
    HostUnderTest host(with_control({listener}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    EXPECT_EQ(listen_backlog(host.port(0)), 16);
    auto config = nlohmann::json::parse(std::ifstream(host.config_path()));
    config["listeners"][0]["request_queue_size"] = 64;
    config["listeners"][0]["reuse_port"] = true;
    std::ofstream(host.config_path()) << config.dump();
    const auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_EQ(listen_backlog(host.port(0)), 64) << "the same socket, listening with the new backlog";
    EXPECT_TRUE(host.wait_for_log(host.listening()[0] + ": request_queue_size 16 -> 64")) << host.log();
    EXPECT_TRUE(host.wait_for_log(host.listening()[0] + ": reuse_address/reuse_port changed, but a kept listener is "
                                                         "never re-bound"))
        << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

TEST(Reload, PidFileAndControlSocketExistWhileRunningAndAreRemovedAtExit) {
    auto config = with_control({probe_listener()});
    config["pid_file"] = "sockhost.pid";
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    std::ifstream pid_file(host.dir() / "sockhost.pid");
    pid_t written = 0;
    pid_file >> written;
    EXPECT_EQ(written, host.pid());
    const auto control = host.dir() / "control.sock";
    EXPECT_EQ(std::filesystem::status(control).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
    EXPECT_FALSE(std::filesystem::exists(host.dir() / "sockhost.pid"));
    EXPECT_FALSE(std::filesystem::exists(control));
}

// The supervisor runs as root and writes pid_file: a symbolic link planted at that path is
// not followed (the file it names would be truncated and overwritten), and the start fails
// naming the pid_file.
TEST(Reload, PidFileIsNotWrittenThroughASymbolicLink) {
    TempDir elsewhere;
    const auto victim = elsewhere.path() / "victim";
    std::ofstream(victim) << "precious\n";
    const auto link = elsewhere.path() / "sockhost.pid";
    std::filesystem::create_symlink(victim, link);
    auto config = with_control({probe_listener()});
    config["pid_file"] = link.string();
    const auto failure = run_expecting_exit(config, {test_plugin("probe")});
    EXPECT_EQ(failure.exit_code, 2) << failure.log;
    EXPECT_NE(failure.log.find("pid_file " + link.string() + ": cannot write"), std::string::npos) << failure.log;
    std::ifstream kept(victim);
    std::string content;
    std::getline(kept, content);
    EXPECT_EQ(content, "precious");
}

// Under umask 000 the pid file is still 0644: its mode is explicit, not the umask's.
TEST(Reload, PidFileIsMode0644UnderAnyUmask) {
    auto config = with_control({probe_listener()});
    config["pid_file"] = "sockhost.pid";
    config["strict_modes"] = false;  // the test's own directories are made under umask 000 too
    const mode_t previous = ::umask(0);
    HostUnderTest host(config, {test_plugin("probe")});
    ::umask(previous);
    ASSERT_TRUE(host.ready()) << host.log();
    struct stat status{};
    ASSERT_EQ(::stat((host.dir() / "sockhost.pid").c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0644u);
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// Control clients that never send, and one that asks and never reads, hold up nothing:
// SIGHUP reloads meanwhile, the silent ones are closed after a while, and then
// `sockhost reload` gets its answer.
TEST(Reload, SilentAndNonReadingControlClientsDoNotBlockTheSupervisor) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string control = "unix:" + (host.dir() / "control.sock").string();
    std::vector<UniqueFd> silent;
    for (int client = 0; client < 20; ++client) silent.push_back(connect_stream(control));
    UniqueFd asks_and_never_reads = connect_stream(control);
    send_all(asks_and_never_reads.get(), "reload\n");

    ::kill(host.pid(), SIGHUP);
    EXPECT_TRUE(host.wait_for_log("reload: generation 3 is serving", 30s))
        << "the supervisor's loop runs on with silent clients connected: " << host.log();
    for (const auto &client : silent)
        EXPECT_EQ(read_until_eof(client.get(), 30s), "failed no request within 5 s\n") << host.log();
    const auto outcome = reload(host);
    EXPECT_EQ(outcome.exit_code, 0) << outcome.output << host.log();
    EXPECT_NE(outcome.output.find("is serving 1 listener(s)"), std::string::npos) << outcome.output;
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

std::multiset<std::string> fd_targets_starting_with(pid_t pid, const std::string &prefix) {
    std::multiset<std::string> targets;
    for (const auto &entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        std::error_code error;
        const auto target = std::filesystem::read_symlink(entry.path(), error).string();
        if (target.starts_with(prefix)) targets.insert(target);
    }
    return targets;
}

// A worker holds the listeners, its own status pipe and handoff channel, and nothing else
// of the supervisor's: not the control socket, the signalfd, another worker's pidfd,
// status pipe or handoff channel.
TEST(Reload, WorkersInheritOnlyTheirListenersAndStatusPipe) {
    auto config = with_control({probe_listener(), probe_listener("udp://127.0.0.1:0", "sync")});
    config["workers"] = 2;
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    ASSERT_EQ(reload(host).exit_code, 0) << host.log();
    ASSERT_TRUE(host.wait_for_log("generation 1 has exited")) << host.log();
    const auto supervisor_sockets = socket_inodes(host.pid());
    ASSERT_EQ(sockets_but_handoff_channels(host.pid()).size(), 3u)
        << "two listeners and the control socket: " << fd_targets(host.pid());
    ASSERT_EQ(supervisor_sockets.size(), 3u + host.worker_pids().size()) << "and a handoff channel per worker";
    const auto supervisor_pipes = fd_targets_starting_with(host.pid(), "pipe:");
    for (const pid_t worker : host.worker_pids()) {
        SCOPED_TRACE("worker " + std::to_string(worker) + ": " + fd_targets(worker));
        const auto sockets = sockets_but_handoff_channels(worker);
        EXPECT_EQ(sockets.size(), 2u) << "the two listeners";
        for (const auto &socket : sockets) EXPECT_TRUE(supervisor_sockets.contains(socket)) << socket;
        EXPECT_EQ(socket_inodes(worker).size(), 3u) << "and its end of its handoff channel";
        int shared_pipes = 0;
        for (const auto &pipe : fd_targets_starting_with(worker, "pipe:")) shared_pipes += supervisor_pipes.contains(pipe);
        EXPECT_EQ(shared_pipes, 1) << "its own status pipe only";
        // Its own signalfd, which it takes its stop signals with; not the supervisor's too.
        EXPECT_LE(fd_targets_starting_with(worker, "anon_inode:[signalfd]").size(), 1u);
        EXPECT_TRUE(fd_targets_starting_with(worker, "anon_inode:[pidfd]").empty());
    }
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

// Out of descriptors, the supervisor cannot accept a control client: it says so and
// retries later (rather than spin on the readable socket), and answers once it can.
TEST(Reload, ControlClientWaitsWhileTheSupervisorIsOutOfDescriptors) {
    HostUnderTest host(with_control({probe_listener()}), {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    rlimit original{};
    ASSERT_EQ(::prlimit(host.pid(), RLIMIT_NOFILE, nullptr, &original), 0);
    // The lowest free descriptor number: below it every slot is taken.
    std::set<int> open;
    for (const auto &entry : std::filesystem::directory_iterator("/proc/" + std::to_string(host.pid()) + "/fd"))
        open.insert(std::stoi(entry.path().filename().string()));
    int lowest_free = 0;
    while (open.contains(lowest_free)) ++lowest_free;
    const rlimit exhausted{static_cast<rlim_t>(lowest_free), original.rlim_max};
    ASSERT_EQ(::prlimit(host.pid(), RLIMIT_NOFILE, &exhausted, nullptr), 0);
    auto outcome = std::async(std::launch::async, [&] { return reload(host); });
    EXPECT_TRUE(host.wait_for_log("control socket: cannot accept: Too many open files; retrying in 1 s")) << host.log();
    ASSERT_EQ(::prlimit(host.pid(), RLIMIT_NOFILE, &original, nullptr), 0);
    const auto answered = outcome.get();
    EXPECT_EQ(answered.exit_code, 0) << answered.output << host.log();
    EXPECT_LT(count_of(host.log(), "cannot accept"), 30) << "paused between attempts: " << host.log();
    EXPECT_EQ(host.stop(SIGTERM), 0) << host.log();
}

}  // namespace
}  // namespace sockhost::test
