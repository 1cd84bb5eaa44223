// A generation's workers: their states, drain, replacement and reaping (a worker's start
// is in worker_spawn.cpp), and how a generation is started.
#include <sockhost/host/supervisor/generation.hpp>

#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/supervisor/listener_set.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>

namespace sockhost {

std::string Generation::changed_plugin_files(const Worker &worker) const {
    std::string text;
    for (const auto &was : plugin_files) {
        // Only the plugins this worker's group loaded.
        if (std::none_of(routes.begin(), routes.end(),
                         [&](const HandoffRoute &route) { return route.group == worker.group && route.plugin == was.name; }))
            continue;
        const auto file = plugin_dir / (was.name + ".so");
        auto now = identify_plugin_file(was.name, file);
        const std::string change = now ? plugin_file_change(was, *now) : "gone (" + now.error().message + ")";
        if (change.empty()) continue;
        text += "; plugin file " + file.string() + " was " + change + " since " + name() +
                " started (copying over a loaded plugin breaks the code mapped from it: install a plugin by renaming "
                "a new file into place, then reload)";
    }
    return text;
}

void Generation::read_status_reports() {
    for (auto &worker : workers) read_status(worker);
}

void Generation::read_status(Worker &worker) const {
    auto reading = worker.status.read_available();
    if (reading.overlong)
        log_warning(name() + " worker " + std::to_string(worker.index) + ": status line longer than " +
                    std::to_string(WorkerStatusReader::kMaxLine) + " bytes; ignored");
    for (const auto &line : reading.lines) {
        switch (line.status) {
        case WorkerStatus::ready: worker.ready = true; break;
        case WorkerStatus::draining: worker.draining = true; break;
        case WorkerStatus::failed: worker.failure = line.reason; break;
        }
    }
}

std::chrono::seconds Worker::schedule_respawn() {
    const auto now = Clock::now();
    auto delay = std::chrono::seconds(0);
    if (now - started < kHealthyUptime) {
        ++quick_exits;
        delay = kRespawnDelay * (1LL << std::min(quick_exits - 1, 5));
        delay = std::min<std::chrono::seconds>(delay, kMaxRespawnDelay);
    } else {
        quick_exits = 0;
    }
    started = now + delay;
    ready = false;
    failure.reset();
    return delay;
}

void Generation::respawn_dead_workers() {
    for (std::size_t slot = 0; slot < workers.size(); ++slot) {
        const Worker &dead = workers[slot];
        if (dead.process.pid() > 0 || Clock::now() < dead.started) continue;
        const int index = dead.index;
        if (auto spawned = spawn_worker(index, dead.group); !spawned) {
            log_error(name() + " worker " + std::to_string(index) +
                      ": cannot start a replacement: " + spawned.error().message);
            workers[slot].started = Clock::now() + Worker::kRespawnDelay;
            continue;
        }
        // spawn_worker appended it: move it into the dead worker's slot.
        Worker replacement = std::move(workers.back());
        replacement.quick_exits = workers[slot].quick_exits;
        workers.pop_back();
        log_info(name() + " worker " + std::to_string(index) + " replaced (pid " +
                 std::to_string(replacement.process.pid()) + ")");
        workers[slot] = std::move(replacement);
    }
}

std::optional<Clock::time_point> Generation::next_respawn() const {
    std::optional<Clock::time_point> next;
    for (const auto &worker : workers)
        if (worker.process.pid() <= 0 && (!next || worker.started < *next)) next = worker.started;
    for (const auto &worker : retiring)
        if (worker.retire_deadline && (!next || *worker.retire_deadline < *next)) next = worker.retire_deadline;
    return next;
}

bool Generation::all_ready() const {
    return !workers.empty() && std::all_of(workers.begin(), workers.end(), [](const Worker &worker) { return worker.ready; });
}

bool Generation::all_draining() const {
    return std::all_of(workers.begin(), workers.end(),
                       [](const Worker &worker) { return worker.draining || worker.process.pid() <= 0; });
}

bool Generation::all_exited() const {
    const auto exited = [](const Worker &worker) { return worker.process.pid() <= 0; };
    return std::all_of(workers.begin(), workers.end(), exited) && std::all_of(retiring.begin(), retiring.end(), exited);
}

void Generation::drain_worker(Worker &worker) {
    HandoffMessage message;
    message.type = HandoffType::drain;
    if (worker.process.pid() <= 0) return;
    worker.drain_sent = true;
    // Behind what was queued for it before: the drain must not overtake those messages.
    if (worker.handoff.open() && !worker.outbox.empty()) {
        worker.outbox.push_back(std::move(message));
        return;
    }
    if (!worker.handoff.open() || worker.handoff.send(message, false) != HandoffChannel::SendResult::sent)
        worker.process.signal(SIGTERM);
}

void Generation::drain_all() {
    for (auto &worker : workers) drain_worker(worker);
}

void Generation::signal_all(int signal_number) {
    for (auto &worker : workers) worker.process.signal(signal_number);
    for (auto &worker : retiring) worker.process.signal(signal_number);
}

Result<void> Generation::replace_worker(std::size_t position) {
    if (auto spawned = spawn_worker(workers[position].index, workers[position].group); !spawned) return spawned;
    Worker replacement = std::move(workers.back());
    workers.pop_back();
    Worker retired = std::move(workers[position]);
    workers[position] = std::move(replacement);
    log_info(describe(workers[position], workers[position].process.pid()) + " started in place of pid " +
             std::to_string(retired.process.pid()) + ", which drains once it is ready");
    retired.replaced_at = position;
    retiring.push_back(std::move(retired));
    return {};
}

void Generation::settle_replacements(std::chrono::milliseconds drain) {
    for (auto retired = retiring.begin(); retired != retiring.end();) {
        if (!retired->replaced_at || retired->process.pid() <= 0) {
            ++retired;
            continue;
        }
        Worker &replacement = workers[*retired->replaced_at];
        if (replacement.ready) {
            retired->replaced_at.reset();
            drain_worker(*retired);  // its idle connections move to the replacement
            retired->status.close();  // its DRAINING says nothing any more
            retired->retire_deadline = Clock::now() + drain + kDrainGrace;
        } else if (replacement.process.pid() <= 0) {
            log_warning(describe(*retired, retired->process.pid()) + " serves on: its replacement exited before it was ready");
            const std::size_t position = *retired->replaced_at;
            retired->replaced_at.reset();
            retired->replace_not_before = Clock::now() + std::chrono::seconds(30);
            workers[position] = std::move(*retired);
            retired = retiring.erase(retired);
            continue;
        }
        ++retired;
    }
}

void Generation::reap_retiring(const std::function<void(Worker &)> &reaped) {
    for (auto worker = retiring.begin(); worker != retiring.end();) {
        const pid_t pid = worker->process.pid();
        if (const auto status = worker->process.try_reap()) {
            log_info(describe(*worker, pid) + ", replaced, " + describe_wait_status(*status));
            reaped(*worker);
            worker = retiring.erase(worker);
            continue;
        }
        if (worker->retire_deadline && Clock::now() >= *worker->retire_deadline) {
            log_warning(describe(*worker, pid) + ", replaced, still running past its drain deadline; killing it");
            worker->process.signal(SIGKILL);
            worker->retire_deadline.reset();
        }
        ++worker;
    }
}

namespace {

// The generation's worker groups, in the order their first listener is configured.
std::vector<WorkerGroup> group_listeners(const EffectiveConfig &effective, const std::vector<std::string> &keys,
                                         const ListenerSet &listeners) {
    std::vector<WorkerGroup> groups;
    for (std::size_t index = 0; index < keys.size(); ++index) {
        const auto &listener = effective.config.listeners[index];
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const WorkerGroup &candidate) { return candidate.name == listener.worker_group; });
        if (group == groups.end()) {
            group = groups.emplace(groups.end());
            group->name = listener.worker_group;
        }
        group->listeners.push_back(static_cast<int>(index));
        group->listener_fds.push_back(listeners.at(keys[index]).fd());
        group->listener_names.push_back(listener.name.empty() ? "listener" + std::to_string(index) : listener.name);
        group->serves += std::string(group->serves.empty() ? "" : ", ") + "plugin " + listener.plugin + " on " +
                         listeners.at(keys[index]).bound_text();
    }
    return groups;
}

std::vector<WatchedListener> watch_listeners(const EffectiveConfig &effective, const std::vector<std::string> &keys,
                                             const ListenerSet &listeners) {
    std::vector<WatchedListener> watched;
    for (std::size_t index = 0; index < keys.size(); ++index) {
        const auto &listener = effective.config.listeners[index];
        watched.push_back({"plugin " + listener.plugin + " on " + listeners.at(keys[index]).bound_text(),
                           listener.options.stuck_warning, listener.options.stuck_limit});
    }
    return watched;
}

}  // namespace

Result<std::unique_ptr<Generation>> start_generation(int number, const std::filesystem::path &binary,
                                                     const EffectiveConfig &effective, ListenerSet &listeners) {
    auto keys = listeners.acquire(effective.config.listeners);
    if (!keys) return std::unexpected(keys.error());
    auto generation = std::make_unique<Generation>();
    generation->number = number;
    generation->launch.binary = binary;
    auto memfd = make_config_memfd(effective.snapshot.to_json());
    if (!memfd) return std::unexpected(memfd.error());
    generation->launch.config = std::move(*memfd);
    generation->launch.metrics = effective.config.metrics;
    generation->plugin_dir = effective.config.plugin_dir;
    generation->plugin_files = effective.snapshot.plugin_files;
    generation->listener_keys.insert(keys->begin(), keys->end());
    generation->groups = group_listeners(effective, *keys, listeners);
    generation->watched = watch_listeners(effective, *keys, listeners);
    for (std::size_t index = 0; index < keys->size(); ++index) {
        const auto &listener = effective.config.listeners[index];
        HandoffRoute route{(*keys)[index], listener.plugin,
                           !is_datagram(listener.address.transport) && listener.options.handoff, 0};
        for (std::size_t group = 0; group < generation->groups.size(); ++group)
            for (const int member : generation->groups[group].listeners)
                if (member == static_cast<int>(index)) route.group = group;
        generation->routes.push_back(std::move(route));
        generation->metric_labels.push_back(
            {listener.address.text(), listener.plugin, std::string(mode_name(listener.options.mode))});
    }
    generation->deadline = Clock::now() + effective.config.ready_timeout;
    int index = 0;
    for (std::size_t group = 0; group < generation->groups.size(); ++group) {
        for (int copy = 0; copy < effective.config.workers; ++copy) {
            if (auto spawned = generation->spawn_worker(++index, group); !spawned) {
                generation->signal_all(SIGKILL);
                return std::unexpected(spawned.error());
            }
            log_debug(generation->name() + " worker " + std::to_string(index) + " started (pid " +
                      std::to_string(generation->workers.back().process.pid()) + ") for " +
                      generation->groups[group].serves);
        }
    }
    return generation;
}

bool Generations::all_exited() const {
    bool exited = true;
    for_each([&](const Generation &generation) { exited = exited && generation.all_exited(); });
    return exited;
}

std::set<std::string> Generations::listener_keys() const {
    std::set<std::string> keys;
    for_each([&](const Generation &generation) { keys.insert(generation.listener_keys.begin(), generation.listener_keys.end()); });
    return keys;
}

void Generations::clear() {
    starting.reset();
    serving.reset();
    draining.clear();
}

}  // namespace sockhost
