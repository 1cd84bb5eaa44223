// One generation: the worker processes started from one configuration, each a fresh
// fork+exec of the sockhost binary given its listeners, configuration and status pipe as
// shared/worker_channel.hpp lays out. The supervisor keeps at most one generation
// starting, one serving and a few draining (Generations).
#pragma once

#include <sockhost/host/shared/child_process.hpp>
#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/handoff_channel.hpp>
#include <sockhost/host/shared/plugin_file_identity.hpp>
#include <sockhost/host/shared/server_options.hpp>
#include <sockhost/host/shared/unique_fd.hpp>
#include <sockhost/host/shared/worker_activity.hpp>
#include <sockhost/host/shared/worker_channel.hpp>
#include <sockhost/host/shared/worker_metrics.hpp>
#include <sockhost/host/supervisor/metrics_totals.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sockhost {

struct EffectiveConfig;
class ListenerSet;

// What every worker of a generation is started with.
struct WorkerLaunch {
    std::filesystem::path binary;  // resolved once, when the supervisor started
    UniqueFd config;               // memfd holding the ConfigSnapshot as JSON
    bool metrics = true;           // each worker gets a metrics table (`metrics`)
};

// The listeners one set of worker processes serves: those of one worker_group (by default
// one plugin's), each served by `workers` processes of their own.
struct WorkerGroup {
    std::string name;
    std::vector<int> listeners;               // indices into the configuration's listeners
    std::vector<int> listener_fds;            // held by the supervisor's ListenerSet
    std::vector<std::string> listener_names;  // LISTEN_FDNAMES
    std::string serves;                       // "plugin P on ADDRESS, ...", for messages
};

// Past drain_timeout a draining worker has this long to exit before it is killed: its own
// deadline cancels requests at drain_timeout, then it still closes and reaps.
inline constexpr auto kDrainGrace = std::chrono::seconds(5);

// Where a listener's connections and state may go at a reload: the next generation's
// listener with the same key, when it serves the same plugin with `handoff` on.
struct HandoffRoute {
    std::string key;     // ListenerSet key
    std::string plugin;
    bool handoff = false;  // a stream listener whose `handoff` option is on
    std::size_t group = 0;  // in Generation::groups
};

// A listener as the supervisor's reports of its requests name and judge it.
struct WatchedListener {
    std::string serves;  // "plugin P on ADDRESS"
    std::chrono::milliseconds stuck_warning{0};
    std::chrono::milliseconds stuck_limit{0};
};

struct Worker {
    int index = 0;  // 1-based within its generation
    std::size_t group = 0;  // in Generation::groups
    ChildProcess process;
    WorkerStatusReader status;    // the status pipe; closed at end of input
    HandoffChannel handoff;       // the handoff channel (closed when the worker closed it)
    std::deque<HandoffMessage> outbox;  // to send once the channel has room
    bool drain_sent = false;            // told to drain for a reload: it may offer connections
    std::optional<ActivityMapping> activity;  // what its requests are doing
    std::optional<MetricsMapping> metrics;    // what it counted (none: `metrics` off)
    bool ready = false;
    bool draining = false;  // reported "DRAINING": it accepts nothing new
    std::optional<std::string> failure;  // "FAILED" reason reported by the worker
    // When it started; for a dead worker of the serving generation, when its replacement
    // may start.
    Clock::time_point started;

    // Exits in a row, each within kHealthyUptime of its start: the replacement waits
    // kRespawnDelay, doubled for each, at most kMaxRespawnDelay (a crash loop is not
    // restarted every second forever). A worker that lived longer is replaced at once.
    int quick_exits = 0;
    static constexpr std::chrono::seconds kRespawnDelay{1};
    static constexpr std::chrono::seconds kMaxRespawnDelay{32};
    static constexpr std::chrono::seconds kHealthyUptime{10};
    // It died while serving: schedules its replacement and returns the delay.
    std::chrono::seconds schedule_respawn();

    // Requests found stuck in plugin code and already warned about, and forking children
    // already killed for it: (slot, serial).
    std::vector<std::pair<std::size_t, std::uint32_t>> stuck_warned;
    std::vector<std::pair<std::size_t, std::uint32_t>> stuck_killed;
    // Its resident memory when first seen READY (worker_watch.cpp), in MiB.
    std::optional<std::uint64_t> resident_when_ready;
    // Replaced while alive (stuck or too big). It serves on until its replacement (in
    // workers[replaced_at]) is READY, then drains and is killed at the deadline.
    std::optional<std::size_t> replaced_at;
    std::optional<Clock::time_point> retire_deadline;
    // A replacement of it failed to start: not tried again before this.
    Clock::time_point replace_not_before{};
};

struct Generation {
    int number = 0;
    WorkerLaunch launch;
    std::set<std::string> listener_keys;  // the listeners it serves (ListenerSet keys)
    std::vector<WorkerGroup> groups;
    std::vector<WatchedListener> watched;  // by index in the configuration's listeners
    std::vector<HandoffRoute> routes;      // by index in the configuration's listeners
    std::vector<MetricLabels> metric_labels;  // by index in the configuration's listeners
    std::filesystem::path plugin_dir;
    std::vector<PluginFileIdentity> plugin_files;  // as read for it (its workers load these)
    std::size_t next_taker = 0;            // round robin over the workers taking connections
    std::vector<Worker> workers;
    std::vector<Worker> retiring;  // replaced while alive, draining (replace_worker)
    Clock::time_point deadline;     // starting: READY by then; draining: killed after it
    bool cut_short = false;         // draining: told to stop now (too many draining)

    // Forks and executes worker `index` of `group`; what fails before exec is an error here.
    Result<void> spawn_worker(int index, std::size_t group);
    // Starts a replacement for each dead worker whose time has come (schedule_respawn).
    void respawn_dead_workers();
    // Starts a new worker in the place of the live workers[position]. The old one serves
    // on until the new one is READY, then is told to stop (SIGTERM), drains until `drain`
    // has passed, and is killed (settle_replacements).
    Result<void> replace_worker(std::size_t position);
    // Stops each replaced worker whose replacement is READY; puts one whose replacement
    // exited first back in its place. Call after the exits were seen, before respawning.
    void settle_replacements(std::chrono::milliseconds drain);
    // Reaps retired workers that exited (calling `reaped` for each before it goes), kills
    // those past their deadline; logs both.
    void reap_retiring(const std::function<void(Worker &)> &reaped);
    std::optional<Clock::time_point> next_respawn() const;
    // Reads every worker's status pipe: READY, DRAINING and FAILED set its flags.
    void read_status_reports();
    void read_status(Worker &worker) const;
    bool all_ready() const;
    bool all_draining() const;  // every worker reported DRAINING or has exited
    bool all_exited() const;  // retired workers too
    void signal_all(int signal_number);  // retired workers too
    // Tells the worker to drain for a reload: its idle connections move (handoff channel),
    // or, without a channel, SIGTERM.
    static void drain_worker(Worker &worker);
    void drain_all();
    std::string name() const { return "generation " + std::to_string(number); }
    // For a worker's crash: "; plugin file F was rewritten in place since …" for each
    // plugin file of the worker's group that changed since the generation started, or "".
    std::string changed_plugin_files(const Worker &worker) const;
    // "plugin P on ADDRESS, ...": what the worker's group serves.
    const std::string &serves(const Worker &worker) const { return groups[worker.group].serves; }
    std::string describe(const Worker &worker, pid_t pid) const {
        return name() + " worker " + std::to_string(worker.index) + " (pid " + std::to_string(pid) + ")";
    }
};

// Starts generation `number` of `effective`: acquires its listeners from `listeners`
// (binding those not held yet), writes its configuration memfd and spawns its workers.
Result<std::unique_ptr<Generation>> start_generation(int number, const std::filesystem::path &binary,
                                                     const EffectiveConfig &effective, ListenerSet &listeners);

// The supervisor's generations: one starting (during a reload), one serving, and those
// still draining, oldest first.
struct Generations {
    std::unique_ptr<Generation> starting;
    std::unique_ptr<Generation> serving;
    std::vector<std::unique_ptr<Generation>> draining;

    // Calls `visit(Generation&)` for each live generation: starting, serving, draining.
    template <typename Visit> void for_each(Visit &&visit) const {
        for (Generation *generation : {starting.get(), serving.get()})
            if (generation != nullptr) visit(*generation);
        for (const auto &generation : draining) visit(*generation);
    }
    bool all_exited() const;
    std::set<std::string> listener_keys() const;  // of every live generation
    void clear();  // ChildProcess kills and reaps whatever is left
};

}  // namespace sockhost
