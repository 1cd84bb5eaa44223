// The supervisor: owns every listener, never loads a plugin, never runs handler code. It
// runs generations of workers (generation.hpp) and moves between them on reload:
//
//   starting N+1 --all workers READY--> serving N+1, N draining --all exited--> N gone
//        \--a worker failed / ready_timeout--> N+1 stopped, N keeps serving
//
// One thread, one poll() loop over a signalfd, the control socket and its clients
// (control_socket.hpp), and each worker's status pipe and pidfd.
#include <sockhost/host/host_process.hpp>

#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/supervisor/control_socket.hpp>
#include <sockhost/host/supervisor/generation.hpp>
#include <sockhost/host/supervisor/listener_set.hpp>
#include <sockhost/host/supervisor/pid_file.hpp>
#include <sockhost/host/supervisor/systemd_notify.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace sockhost {

namespace {

using namespace std::chrono_literals;

// Past drain_timeout a draining worker has this long to exit before it is killed: its own
// deadline cancels requests at drain_timeout, then it still closes and reaps.
constexpr auto kDrainGrace = 5s;
// Generations still draining beyond this many are cut short (oldest first).
constexpr std::size_t kMaxDraining = 4;
// After a promotion, the old generation's workers have this long to say DRAINING before
// the reload is reported complete anyway.
constexpr auto kHandoverTimeout = 2s;

std::string seconds_text(std::chrono::milliseconds duration) {
    const auto millis = duration.count();
    return millis % 1000 == 0 ? std::to_string(millis / 1000) + " s" : std::to_string(millis) + " ms";
}

// Who waits for a reload's outcome: the control clients of the reload under way, and
// those of the one coalesced after it.
struct ReloadWaiters {
    std::vector<ControlClient> current;
    std::vector<ControlClient> next;
    bool again = false;  // a reload was asked for while one was under way

    void answer_current(const std::string &answer) {
        for (auto &client : current) client.answer(answer);
        current.clear();
    }
    void answer_all(const std::string &answer) {
        answer_current(answer);
        for (auto &client : next) client.answer(answer);
        next.clear();
        again = false;
    }
};

// After a promotion: the old generation, until every worker of it said DRAINING. Only
// then is the reload reported complete, so a request made after the answer reaches the
// new generation.
struct Handover {
    Generation *old_generation = nullptr;
    Clock::time_point deadline;
};

class Supervisor {
public:
    Supervisor(std::filesystem::path config_file, std::filesystem::path binary)
        : config_file_(std::move(config_file)), binary_(std::move(binary)),
          notifier_(SystemdNotifier::from_environment()) {}

    int run();

private:
    Result<void> start();
    Result<std::unique_ptr<Generation>> launch(const EffectiveConfig &effective);
    void loop();
    std::vector<pollfd> watched_fds() const;
    int poll_timeout_ms() const;

    // Events, in the loop's order.
    void on_signals();
    void on_control();
    void on_starting();
    void on_serving();
    void on_draining();
    void on_worker_exits(Generation &generation);
    void check_deadlines();

    // Reloads.
    void request_reload(std::optional<ControlClient> client);
    void begin_reload();
    void reload_failed(const std::string &reason);
    void reload_settled(const std::string &answer);
    void promote_starting();
    void log_first_listeners() const;
    void complete_handover();
    void fail_starting(const std::string &reason);

    void begin_stop(bool graceful, int signal_number);
    void retire_unused_listeners() { listeners_.retire_all_but(generations_.listener_keys()); }
    std::string serving_status() const;
    bool stopping() const { return stop_deadline_.has_value(); }

    std::filesystem::path config_file_;
    std::filesystem::path binary_;
    SystemdNotifier notifier_;
    HostConfig config_;        // the serving generation's
    EffectiveConfig pending_;  // the starting generation's
    ListenerSet listeners_;
    UniqueFd signals_;
    std::optional<ControlServer> control_;
    std::optional<PidFile> pid_file_;
    ReloadWaiters waiters_;
    std::optional<Handover> handover_;
    Generations generations_;
    int next_generation_ = 1;
    std::optional<Clock::time_point> stop_deadline_;  // set once stopping
    bool startup_failed_ = false;
    int exit_code_ = exit_ok;
};

Result<std::unique_ptr<Generation>> Supervisor::launch(const EffectiveConfig &effective) {
    auto keys = listeners_.acquire(effective.config.listeners);
    if (!keys) return std::unexpected(keys.error());
    auto generation = std::make_unique<Generation>();
    generation->number = next_generation_++;
    generation->launch.binary = binary_;
    auto memfd = make_config_memfd(effective.snapshot.to_json());
    if (!memfd) return std::unexpected(memfd.error());
    generation->launch.config = std::move(*memfd);
    for (std::size_t index = 0; index < keys->size(); ++index) {
        generation->launch.listener_fds.push_back(listeners_.at((*keys)[index]).fd());
        const auto &name = effective.config.listeners[index].name;
        generation->launch.listener_names.push_back(name.empty() ? "listener" + std::to_string(index) : name);
        generation->listener_keys.insert((*keys)[index]);
    }
    generation->deadline = Clock::now() + effective.config.ready_timeout;
    for (int index = 1; index <= effective.config.workers; ++index) {
        if (auto spawned = generation->spawn_worker(index); !spawned) {
            generation->signal_all(SIGKILL);
            return std::unexpected(spawned.error());
        }
        log_debug(generation->name() + " worker " + std::to_string(index) + " started (pid " +
                  std::to_string(generation->workers.back().process.pid()) + ")");
    }
    return generation;
}

Result<void> Supervisor::start() {
    auto effective = read_effective_config(config_file_);
    if (!effective) return std::unexpected(effective.error());
    set_log_threshold(effective->config.log_level);
    for (const auto &note : effective->notes) log_info(note);
    const sigset_t handled = stop_signals();
    signals_ = UniqueFd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_) return fail_errno("signalfd");

    auto activated = take_inherited_listeners();
    if (!activated) return fail("socket activation: " + activated.error().message);
    listeners_.offer_activated(std::move(*activated));

    if (!effective->config.control_socket.empty()) {
        auto control = ControlServer::open(effective->config.control_socket);
        if (!control) return std::unexpected(control.error());
        control_ = std::move(*control);
    }
    if (!effective->config.pid_file.empty()) {
        auto pid_file = PidFile::write(effective->config.pid_file);
        if (!pid_file) return std::unexpected(pid_file.error());
        pid_file_ = std::move(*pid_file);
    }
    pending_ = std::move(*effective);
    auto generation = launch(pending_);
    if (!generation) return std::unexpected(generation.error());
    generations_.starting = std::move(*generation);
    return {};
}

int Supervisor::run() {
    if (auto started = start(); !started) {
        log_error(started.error().message + "; not started");
        exit_code_ = exit_startup_failure;
    } else {
        loop();
    }
    generations_.clear();
    listeners_.retire_all_but({}, true);
    control_.reset();
    pid_file_.reset();
    if (exit_code_ != exit_startup_failure) log_info("stopped");
    return exit_code_;
}

// One pass per wake-up, in a fixed order: signals, control requests, then the starting,
// serving and draining generations (each step may promote, fail or retire a generation,
// so each looks again at what is there now), the handover, and the deadlines.
void Supervisor::loop() {
    while (!(stopping() && generations_.all_exited())) {
        auto watched = watched_fds();
        if (::poll(watched.data(), watched.size(), poll_timeout_ms()) < 0 && errno != EINTR) {
            log_error(std::string("supervisor poll: ") + std::strerror(errno));
            exit_code_ = exit_runtime_failure;
            begin_stop(false, SIGINT);
        }
        on_signals();
        on_control();
        on_starting();
        on_serving();
        on_draining();
        if (handover_ && (handover_->old_generation->all_draining() || Clock::now() >= handover_->deadline))
            complete_handover();
        check_deadlines();
        if (startup_failed_) return;
    }
}

std::vector<pollfd> Supervisor::watched_fds() const {
    std::vector<pollfd> watched;
    watched.push_back({signals_.get(), POLLIN, 0});
    if (control_) control_->watch(watched);
    generations_.for_each([&](const Generation &generation) {
        for (const auto &worker : generation.workers) {
            if (worker.status.open()) watched.push_back({worker.status.fd(), POLLIN, 0});
            if (worker.process.pidfd() >= 0) watched.push_back({worker.process.pidfd(), POLLIN, 0});
        }
    });
    return watched;
}

int Supervisor::poll_timeout_ms() const {
    auto next = Clock::now() + 1h;
    const auto earlier = [&](std::optional<Clock::time_point> candidate) {
        if (candidate) next = std::min(next, *candidate);
    };
    if (generations_.starting) earlier(generations_.starting->deadline);
    for (const auto &generation : generations_.draining) earlier(generation->deadline);
    if (handover_) earlier(handover_->deadline);
    earlier(stop_deadline_);
    if (control_) earlier(control_->next_deadline());
    if (generations_.serving) earlier(generations_.serving->next_respawn());
    return poll_timeout_until(next);
}

void Supervisor::on_signals() {
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int signal_number = static_cast<int>(info.ssi_signo);
        if (signal_number == SIGHUP) {
            log_info("SIGHUP: reloading");
            request_reload(std::nullopt);
        } else {
            begin_stop(signal_number == SIGTERM, signal_number);
        }
    }
}

void Supervisor::on_control() {
    if (!control_) return;
    for (auto &client : control_->take_reload_requests()) request_reload(std::move(client));
}

void Supervisor::on_starting() {
    Generation *starting = generations_.starting.get();
    if (starting == nullptr) return;
    starting->read_status_reports();
    on_worker_exits(*starting);
    for (const auto &worker : starting->workers)
        if (worker.failure)
            return fail_starting(starting->name() + " worker " + std::to_string(worker.index) + ": " + *worker.failure);
    if (starting->all_ready()) promote_starting();
}

void Supervisor::on_serving() {
    Generation *serving = generations_.serving.get();
    if (serving == nullptr) return;
    serving->read_status_reports();
    on_worker_exits(*serving);
    if (!stopping()) serving->respawn_dead_workers();
}

void Supervisor::on_draining() {
    auto &draining = generations_.draining;
    for (std::size_t index = 0; index < draining.size();) {
        Generation &generation = *draining[index];
        generation.read_status_reports();
        on_worker_exits(generation);
        if (!generation.all_exited()) {
            ++index;
            continue;
        }
        if (handover_ && handover_->old_generation == &generation) complete_handover();
        log_info(generation.name() + " has exited");
        draining.erase(draining.begin() + static_cast<std::ptrdiff_t>(index));
        retire_unused_listeners();
    }
}

// Reaps the generation's workers that exited, and says what it means for each.
void Supervisor::on_worker_exits(Generation &generation) {
    const bool starting = &generation == generations_.starting.get();
    const bool serving = &generation == generations_.serving.get();
    for (auto &worker : generation.workers) {
        const pid_t pid = worker.process.pid();
        if (pid <= 0) continue;
        const auto status = worker.process.try_reap();
        if (!status) continue;
        worker.status.close();
        const std::string how = describe_wait_status(*status);
        if (starting) {
            if (!worker.ready && !worker.failure) worker.failure = "exited while starting (" + how + ")";
            else if (worker.ready) worker.failure = how + " before the generation was complete";
            continue;
        }
        const std::string who = generation.name() + " worker " + std::to_string(worker.index) + " (pid " +
                                std::to_string(pid) + ")";
        if (serving && !stopping()) {
            if (worker.failure) log_error(who + ": " + *worker.failure);
            log_error(who + " " + how + "; starting a replacement");
            worker.schedule_respawn();
        } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
            log_warning(who + " " + how + " while stopping");
            if (stopping() && serving) exit_code_ = exit_runtime_failure;
        } else {
            log_debug(who + " exited");
        }
    }
}

void Supervisor::check_deadlines() {
    const auto now = Clock::now();
    if (generations_.starting && now >= generations_.starting->deadline)
        fail_starting(generations_.starting->name() + " was not READY within ready_timeout (" +
                      seconds_text(pending_.config.ready_timeout) + ")");
    for (auto &generation : generations_.draining)
        if (now >= generation->deadline && !generation->all_exited()) {
            log_warning(generation->name() + " still running past its drain deadline; killing it");
            generation->signal_all(SIGKILL);
            generation->deadline = now + 1h;
        }
    if (stop_deadline_ && now >= *stop_deadline_) {
        log_warning("workers still running past the stop deadline; killing them");
        generations_.for_each([](Generation &generation) { generation.signal_all(SIGKILL); });
        stop_deadline_ = now + 1h;
        exit_code_ = exit_runtime_failure;
    }
}

void Supervisor::request_reload(std::optional<ControlClient> client) {
    if (stopping()) {
        if (client) client->answer("failed the supervisor is stopping");
        return;
    }
    if (generations_.starting || handover_) {
        // Coalesced: one more reload starts when this one has its outcome, reading the
        // files again; every request made meanwhile gets that reload's outcome.
        if (!waiters_.again)
            log_info("reload requested while " +
                     (generations_.starting ? generations_.starting : generations_.serving)->name() +
                     " is starting: it follows once that one settles");
        waiters_.again = true;
        if (client) waiters_.next.push_back(std::move(*client));
        return;
    }
    if (client) waiters_.current.push_back(std::move(*client));
    begin_reload();
}

void Supervisor::begin_reload() {
    notifier_.notify(SystemdNotifier::reloading_state() + "\nSTATUS=reloading " + config_file_.string());
    auto effective = read_effective_config(config_file_);
    if (!effective) return reload_failed(effective.error().message);
    for (const auto &note : effective->notes) log_info(note);
    auto generation = launch(*effective);
    if (!generation) {
        retire_unused_listeners();
        return reload_failed(generation.error().message);
    }
    pending_ = std::move(*effective);
    generations_.starting = std::move(*generation);
    log_info("reload: " + generations_.starting->name() + " starting with " +
             std::to_string(pending_.config.listeners.size()) + " listener(s) and " +
             std::to_string(pending_.config.workers) + " worker(s)");
}

// A reload has its outcome: its waiters get it, and a coalesced reload starts.
void Supervisor::reload_settled(const std::string &answer) {
    waiters_.answer_current(answer);
    if (waiters_.again && !stopping()) {
        waiters_.again = false;
        waiters_.current = std::move(waiters_.next);
        waiters_.next.clear();
        begin_reload();
    }
}

void Supervisor::reload_failed(const std::string &reason) {
    const std::string kept =
        generations_.serving ? generations_.serving->name() + " keeps serving" : "nothing is serving";
    log_error("reload failed: " + reason + "; " + kept);
    notifier_.notify("READY=1\nSTATUS=reload failed (" + kept + "): " + reason);
    reload_settled("failed " + reason);
}

void Supervisor::promote_starting() {
    auto &serving = generations_.serving;
    auto &draining = generations_.draining;
    std::unique_ptr<Generation> promoted = std::move(generations_.starting);
    const bool first = serving == nullptr;
    config_ = pending_.config;
    if (first) {
        serving = std::move(promoted);
        log_first_listeners();
        complete_handover();
        return;
    }
    serving->deadline = Clock::now() + config_.drain_timeout + kDrainGrace;
    serving->signal_all(SIGTERM);
    log_info("reload: " + promoted->name() + " is serving; " + serving->name() + " drains (at most " +
             seconds_text(config_.drain_timeout) + ")");
    draining.push_back(std::move(serving));
    if (draining.size() > kMaxDraining) {
        Generation &oldest = *draining.front();
        log_warning(oldest.name() + ": more than " + std::to_string(kMaxDraining) +
                    " generations draining; stopping it now");
        oldest.signal_all(SIGINT);
        oldest.deadline = std::min(oldest.deadline, Clock::now() + kDrainGrace);
    }
    serving = std::move(promoted);
    handover_ = Handover{draining.back().get(), Clock::now() + kHandoverTimeout};
}

void Supervisor::log_first_listeners() const {
    const auto keys = ListenerSet::keys_of(config_.listeners);
    for (std::size_t index = 0; index < config_.listeners.size(); ++index) {
        const auto &listener = config_.listeners[index];
        log_info("listening on " + listeners_.at(keys[index]).bound_text() + " (plugin " + listener.plugin +
                 ", mode " + std::string(mode_name(listener.options.mode)) + ")");
    }
    log_info("ready: " + std::to_string(config_.listeners.size()) + " listener(s), " +
             std::to_string(config_.workers) + " worker(s), " + generations_.serving->name());
}

void Supervisor::complete_handover() {
    handover_.reset();
    notifier_.notify("READY=1\nSTATUS=" + serving_status());
    reload_settled("ok " + generations_.serving->name() + " is serving " + std::to_string(config_.listeners.size()) +
                   " listener(s)");
}

std::string Supervisor::serving_status() const {
    return generations_.serving->name() + " serving " + std::to_string(config_.listeners.size()) +
           " listener(s) with " + std::to_string(generations_.serving->workers.size()) + " worker(s)";
}

void Supervisor::fail_starting(const std::string &reason) {
    std::unique_ptr<Generation> failed = std::move(generations_.starting);
    // Workers that reported READY may hold requests already: they drain. The rest never
    // served anything and are killed (one stuck loading a plugin would not heed SIGTERM).
    for (auto &worker : failed->workers) worker.process.signal(worker.ready ? SIGTERM : SIGKILL);
    failed->deadline = Clock::now() + pending_.config.drain_timeout + kDrainGrace;
    if (!generations_.serving) {
        log_error(reason + "; not started");
        exit_code_ = exit_startup_failure;
        startup_failed_ = true;
        return;
    }
    generations_.draining.push_back(std::move(failed));
    reload_failed(reason);
}

void Supervisor::begin_stop(bool graceful, int signal_number) {
    const int forwarded = graceful ? SIGTERM : SIGINT;
    if (stopping() && graceful) return;
    if (!stopping()) {
        notifier_.notify("STOPPING=1\nSTATUS=stopping");
        const auto drain = generations_.serving ? config_.drain_timeout : pending_.config.drain_timeout;
        stop_deadline_ = Clock::now() + (graceful ? drain : 0ms) + kDrainGrace;
        if (graceful) log_info("SIGTERM: stopping gracefully, in-flight requests have " + std::to_string(drain.count()) + " ms");
        else log_info(std::string(strsignal(signal_number)) + ": stopping now");
        if (control_) control_->close("the supervisor is stopping");  // no more reload requests
        control_.reset();
        handover_.reset();
        waiters_.answer_all("failed the supervisor is stopping");
    } else {
        log_info(std::string(strsignal(signal_number)) + " while stopping: stopping now");
        stop_deadline_ = std::min(*stop_deadline_, Clock::now() + kDrainGrace);
    }
    if (generations_.starting)
        for (auto &worker : generations_.starting->workers) worker.process.signal(worker.ready ? forwarded : SIGKILL);
    if (generations_.serving) generations_.serving->signal_all(forwarded);
    for (auto &generation : generations_.draining) generation->signal_all(forwarded);
}

// The binary on disk, resolved once: a reload executes what is installed at this path now.
std::filesystem::path own_binary() {
    std::error_code error;
    auto path = std::filesystem::read_symlink("/proc/self/exe", error);
    std::string text = path.string();
    constexpr std::string_view deleted = " (deleted)";  // replaced by rename since it started
    if (text.ends_with(deleted)) text.resize(text.size() - deleted.size());
    return text;
}

}  // namespace

int run_supervisor(const std::filesystem::path &config_file) {
    Supervisor supervisor(config_file, own_binary());
    return supervisor.run();
}

}  // namespace sockhost
