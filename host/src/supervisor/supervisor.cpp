// The supervisor: owns every listener, never loads a plugin, never runs handler code. It
// runs generations of workers (generation.hpp) and moves between them on reload:
//
//   starting N+1 --all workers READY--> serving N+1, N draining --all exited--> N gone
//        \--a worker failed / ready_timeout--> N+1 stopped, N keeps serving
//
// One thread, one poll() loop over a signalfd, the control socket and its clients, and
// each worker's status pipe and pidfd.
#include <sockhost/host/host_process.hpp>

#include <sockhost/host/supervisor/control_socket.hpp>
#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/supervisor/listener_set.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/supervisor/systemd_notify.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>

namespace sockhost {

namespace {

using namespace std::chrono_literals;

// Past drain_timeout a draining worker has this long to exit before it is killed: its own
// deadline cancels requests at drain_timeout, then it still closes and reaps.
constexpr auto kDrainGrace = 5s;
// Generations still draining beyond this many are cut short (oldest first).
constexpr std::size_t kMaxDraining = 4;
// A worker that dies sooner after its start than this is replaced only after this delay.
constexpr auto kRespawnDelay = 1s;
// A control client has this long to send its request line, and at most this many are
// connected without a complete request: past that, the supervisor stops accepting (the
// rest wait in the backlog) rather than run out of descriptors.
constexpr auto kControlRequestTimeout = 5s;
constexpr std::size_t kMaxControlClients = 16;
// A READY/DRAINING/FAILED line from a worker is never longer than this.
constexpr std::size_t kMaxStatusLine = 64 * 1024;

std::string seconds_text(std::chrono::milliseconds duration) {
    const auto millis = duration.count();
    return millis % 1000 == 0 ? std::to_string(millis / 1000) + " s" : std::to_string(millis) + " ms";
}

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

    // Events.
    void on_signals();
    void on_control();
    void request_reload(std::optional<ControlClient> client);
    void begin_reload();
    void reload_failed(const std::string &reason);
    void promote_starting();
    void complete_handover();
    void fail_starting(const std::string &reason);
    void on_generation(Generation &generation);
    void on_worker_exit(Generation &generation, Worker &worker, pid_t pid, int status);
    void check_deadlines();
    void begin_stop(bool graceful, int signal_number);
    void finish_reload_waiters(const std::string &answer);

    void retire_unused_listeners();
    void cut_short(Generation &generation, const std::string &why);
    std::string serving_status() const;
    bool everything_exited() const;
    int poll_timeout_ms() const;

    std::filesystem::path config_file_;
    std::filesystem::path binary_;
    SystemdNotifier notifier_;
    HostConfig config_;  // the serving generation's
    EffectiveConfig pending_;  // the starting generation's
    ListenerSet listeners_;
    UniqueFd signals_;
    std::optional<ListenerSocket> control_;
    std::vector<ControlClient> clients_;   // connected, request not complete yet
    SteadyClock::time_point control_paused_until_;  // after running out of descriptors
    std::vector<ControlClient> waiting_;   // waiting for the starting generation's outcome
    std::vector<ControlClient> waiting_next_;  // coalesced: for the reload after it
    bool reload_again_ = false;
    // After a promotion: the old generation, until every worker of it said DRAINING. Only
    // then is the reload reported complete, so a request made after the answer reaches
    // the new generation.
    Generation *handover_ = nullptr;
    SteadyClock::time_point handover_deadline_;
    std::unique_ptr<Generation> serving_;
    std::unique_ptr<Generation> starting_;
    std::vector<std::unique_ptr<Generation>> draining_;
    int next_generation_ = 1;
    bool stopping_ = false;
    bool startup_failed_ = false;
    SteadyClock::time_point stop_deadline_;
    int exit_code_ = exit_ok;
    std::filesystem::path pid_file_;
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
    generation->deadline = SteadyClock::now() + effective.config.ready_timeout;
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
    sigset_t handled;
    sigemptyset(&handled);
    for (const int signal_number : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&handled, signal_number);
    signals_ = UniqueFd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_) return fail_errno("signalfd");

    auto activated = take_inherited_listeners();
    if (!activated) return fail("socket activation: " + activated.error().message);
    listeners_.offer_activated(std::move(*activated));

    if (!effective->config.control_socket.empty()) {
        auto control = create_control_socket(effective->config.control_socket);
        if (!control) return std::unexpected(control.error());
        control_ = std::move(*control);
    }
    if (!effective->config.pid_file.empty()) {
        std::ofstream out(effective->config.pid_file, std::ios::trunc);
        out << ::getpid() << "\n";
        if (!out.flush()) return fail("pid_file " + effective->config.pid_file.string() + ": cannot write");
        pid_file_ = effective->config.pid_file;
    }
    pending_ = std::move(*effective);
    auto generation = launch(pending_);
    if (!generation) return std::unexpected(generation.error());
    starting_ = std::move(*generation);
    return {};
}

int Supervisor::run() {
    if (auto started = start(); !started) {
        log_error(started.error().message + "; not started");
        exit_code_ = exit_startup_failure;
    } else {
        loop();
    }
    starting_.reset();  // ChildProcess kills and reaps whatever is left
    serving_.reset();
    draining_.clear();
    listeners_.retire_all_but({}, true);
    control_.reset();
    if (!pid_file_.empty()) {
        std::error_code ignored;
        std::filesystem::remove(pid_file_, ignored);
    }
    if (exit_code_ != exit_startup_failure) log_info("stopped");
    return exit_code_;
}

void Supervisor::loop() {
    while (!(stopping_ && everything_exited())) {
        std::vector<pollfd> watched;
        watched.push_back({signals_.get(), POLLIN, 0});
        if (control_ && !stopping_ && clients_.size() < kMaxControlClients && SteadyClock::now() >= control_paused_until_)
            watched.push_back({control_->fd(), POLLIN, 0});
        for (const auto &client : clients_) watched.push_back({client.fd.get(), POLLIN, 0});
        for (Generation *generation : {serving_.get(), starting_.get()})
            if (generation != nullptr)
                for (const auto &worker : generation->workers) {
                    if (worker.status) watched.push_back({worker.status.get(), POLLIN, 0});
                    if (worker.process.pidfd() >= 0) watched.push_back({worker.process.pidfd(), POLLIN, 0});
                }
        for (const auto &generation : draining_)
            for (const auto &worker : generation->workers) {
                if (worker.status) watched.push_back({worker.status.get(), POLLIN, 0});
                if (worker.process.pidfd() >= 0) watched.push_back({worker.process.pidfd(), POLLIN, 0});
            }
        if (::poll(watched.data(), watched.size(), poll_timeout_ms()) < 0 && errno != EINTR) {
            log_error(std::string("supervisor poll: ") + std::strerror(errno));
            exit_code_ = exit_runtime_failure;
            begin_stop(false, SIGINT);
        }
        on_signals();
        on_control();
        // Each step may promote, fail or retire a generation: look again after each.
        if (starting_) on_generation(*starting_);
        if (serving_) on_generation(*serving_);
        for (std::size_t index = 0; index < draining_.size(); ++index) on_generation(*draining_[index]);
        if (handover_ != nullptr && (handover_->all_draining() || SteadyClock::now() >= handover_deadline_))
            complete_handover();
        check_deadlines();
        if (startup_failed_) return;
    }
}

int Supervisor::poll_timeout_ms() const {
    auto next = SteadyClock::now() + 1h;
    if (starting_) next = std::min(next, starting_->deadline);
    if (handover_ != nullptr) next = std::min(next, handover_deadline_);
    for (const auto &generation : draining_) next = std::min(next, generation->deadline);
    if (stopping_) next = std::min(next, stop_deadline_);
    for (const auto &client : clients_) next = std::min(next, client.request_deadline);
    if (control_paused_until_ > SteadyClock::now()) next = std::min(next, control_paused_until_);
    // Replacements wait for their delay: wake up to start them.
    if (serving_)
        for (const auto &worker : serving_->workers)
            if (worker.process.pid() <= 0) next = std::min(next, SteadyClock::now() + 100ms);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - SteadyClock::now());
    return static_cast<int>(std::clamp<long long>(left.count() + 1, 0, 3600 * 1000));
}

void Supervisor::on_signals() {
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int signal_number = static_cast<int>(info.ssi_signo);
        if (signal_number == SIGHUP) {
            log_info("SIGHUP: reloading");
            request_reload(std::nullopt);
        } else if (signal_number == SIGTERM) {
            begin_stop(true, signal_number);
        } else {
            begin_stop(false, signal_number);
        }
    }
}

void Supervisor::on_control() {
    if (control_ && !stopping_ && SteadyClock::now() >= control_paused_until_) {
        while (clients_.size() < kMaxControlClients) {
            UniqueFd client(::accept4(control_->fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            if (!client && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
                // The connection stays queued and the socket readable: pause instead of spinning.
                log_warning(std::string("control socket: cannot accept: ") + std::strerror(errno) + "; retrying in 1 s");
                control_paused_until_ = SteadyClock::now() + 1s;
            }
            if (!client) break;
            clients_.push_back({std::move(client), {}, SteadyClock::now() + kControlRequestTimeout});
        }
    }
    const auto now = SteadyClock::now();
    for (auto client = clients_.begin(); client != clients_.end();) {
        auto request = read_control_request(*client);
        if (request && !*request && now >= client->request_deadline) {
            log_warning("control client sent no complete request within " + seconds_text(kControlRequestTimeout) +
                        "; closing it");
            answer_control_client(*client, "failed no request within " + seconds_text(kControlRequestTimeout));
            client = clients_.erase(client);
            continue;
        }
        if (request && !*request) {
            ++client;
            continue;
        }
        ControlClient taken = std::move(*client);
        client = clients_.erase(client);
        if (!request) continue;  // gone before asking: nothing to answer
        if (**request == "reload") request_reload(std::move(taken));
        else answer_control_client(taken, "failed unknown request '" + **request + "' (known: reload)");
    }
}

void Supervisor::request_reload(std::optional<ControlClient> client) {
    if (stopping_) {
        if (client) answer_control_client(*client, "failed the supervisor is stopping");
        return;
    }
    if (starting_ || handover_ != nullptr) {
        // Coalesced: one more reload starts when this one has its outcome, reading the
        // files again; every request made meanwhile gets that reload's outcome.
        if (!reload_again_)
            log_info("reload requested while " + (starting_ ? starting_->name() : serving_->name()) +
                     " is starting: it follows once that one settles");
        reload_again_ = true;
        if (client) waiting_next_.push_back(std::move(*client));
        return;
    }
    if (client) waiting_.push_back(std::move(*client));
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
    starting_ = std::move(*generation);
    log_info("reload: " + starting_->name() + " starting with " + std::to_string(pending_.config.listeners.size()) +
             " listener(s) and " + std::to_string(pending_.config.workers) + " worker(s)");
}

void Supervisor::finish_reload_waiters(const std::string &answer) {
    for (auto &waiter : waiting_) answer_control_client(waiter, answer);
    waiting_.clear();
    if (reload_again_ && !stopping_) {
        reload_again_ = false;
        waiting_ = std::move(waiting_next_);
        waiting_next_.clear();
        begin_reload();
    }
}

void Supervisor::reload_failed(const std::string &reason) {
    const std::string kept = serving_ ? serving_->name() + " keeps serving" : "nothing is serving";
    log_error("reload failed: " + reason + "; " + kept);
    notifier_.notify("READY=1\nSTATUS=reload failed (" + kept + "): " + reason);
    finish_reload_waiters("failed " + reason);
}

void Supervisor::promote_starting() {
    std::unique_ptr<Generation> promoted = std::move(starting_);
    promoted->state = Generation::State::serving;
    const bool first = serving_ == nullptr;
    config_ = pending_.config;
    if (!first) {
        serving_->state = Generation::State::draining;
        serving_->deadline = SteadyClock::now() + config_.drain_timeout + kDrainGrace;
        serving_->signal_all(SIGTERM);
        log_info("reload: " + promoted->name() + " is serving; " + serving_->name() + " drains (at most " +
                 seconds_text(config_.drain_timeout) + ")");
        draining_.push_back(std::move(serving_));
        if (draining_.size() > kMaxDraining) {
            cut_short(*draining_.front(), "more than " + std::to_string(kMaxDraining) + " generations draining");
            draining_.front()->deadline = std::min(draining_.front()->deadline, SteadyClock::now() + kDrainGrace);
        }
    }
    serving_ = std::move(promoted);
    if (first) {
        for (std::size_t index = 0; index < config_.listeners.size(); ++index) {
            const auto &listener = config_.listeners[index];
            const auto key = ListenerSet::keys_of(config_.listeners)[index];
            log_info("listening on " + listeners_.at(key).bound_text() + " (plugin " + listener.plugin + ", mode " +
                     std::string(mode_name(listener.options.mode)) + ")");
        }
        log_info("ready: " + std::to_string(config_.listeners.size()) + " listener(s), " +
                 std::to_string(config_.workers) + " worker(s), " + serving_->name());
        complete_handover();
        return;
    }
    handover_ = draining_.back().get();
    handover_deadline_ = SteadyClock::now() + 2s;
}

void Supervisor::complete_handover() {
    handover_ = nullptr;
    notifier_.notify("READY=1\nSTATUS=" + serving_status());
    finish_reload_waiters("ok " + serving_->name() + " is serving " + std::to_string(config_.listeners.size()) +
                          " listener(s)");
}

void Supervisor::cut_short(Generation &generation, const std::string &why) {
    log_warning(generation.name() + ": " + why + "; stopping it now");
    generation.signal_all(SIGINT);
}

std::string Supervisor::serving_status() const {
    return serving_->name() + " serving " + std::to_string(config_.listeners.size()) + " listener(s) with " +
           std::to_string(serving_->workers.size()) + " worker(s)";
}

void Supervisor::fail_starting(const std::string &reason) {
    std::unique_ptr<Generation> failed = std::move(starting_);
    // Workers that reported READY may hold requests already: they drain. The rest never
    // served anything and are killed (one stuck loading a plugin would not heed SIGTERM).
    for (auto &worker : failed->workers) worker.process.signal(worker.ready ? SIGTERM : SIGKILL);
    failed->state = Generation::State::draining;
    failed->deadline = SteadyClock::now() + pending_.config.drain_timeout + kDrainGrace;
    if (!serving_) {
        log_error(reason + "; not started");
        exit_code_ = exit_startup_failure;
        startup_failed_ = true;
        return;
    }
    draining_.push_back(std::move(failed));
    reload_failed(reason);
}

void Supervisor::on_generation(Generation &generation) {
    for (auto &worker : generation.workers) {
        if (worker.status) {
            char buffer[4096];
            ssize_t count = 0;
            while ((count = ::read(worker.status.get(), buffer, sizeof buffer)) > 0)
                worker.status_text.append(buffer, static_cast<std::size_t>(count));
            if (count == 0) worker.status.reset();
            // Status lines are short; a worker writing endless bytes without a newline (a
            // plugin scribbling on the fd) is not buffered without bound.
            if (worker.status_text.size() > kMaxStatusLine && worker.status_text.find('\n') == std::string::npos) {
                log_warning(generation.name() + " worker " + std::to_string(worker.index) +
                            ": status line longer than " + std::to_string(kMaxStatusLine) + " bytes; ignored");
                worker.status_text.clear();
            }
            for (auto newline = worker.status_text.find('\n'); newline != std::string::npos;
                 newline = worker.status_text.find('\n')) {
                const std::string line = worker.status_text.substr(0, newline);
                worker.status_text.erase(0, newline + 1);
                if (line == "READY") worker.ready = true;
                else if (line == "DRAINING") worker.draining = true;
                else if (line.starts_with("FAILED ")) worker.failure = line.substr(7);
            }
        }
        if (worker.process.pid() > 0) {
            const pid_t pid = worker.process.pid();
            if (auto status = worker.process.try_reap()) {
                worker.status.reset();
                on_worker_exit(generation, worker, pid, *status);
            }
        }
    }
    if (&generation == starting_.get()) {
        for (const auto &worker : generation.workers)
            if (worker.failure) return fail_starting(generation.name() + " worker " + std::to_string(worker.index) +
                                                     ": " + *worker.failure);
        if (generation.all_ready()) promote_starting();
        return;
    }
    if (&generation == serving_.get() && !stopping_) {
        // Replace workers that died, each after its delay.
        for (std::size_t slot = 0; slot < generation.workers.size(); ++slot) {
            const Worker &dead = generation.workers[slot];
            if (dead.process.pid() > 0 || SteadyClock::now() < dead.started) continue;
            const int index = dead.index;
            if (auto spawned = generation.spawn_worker(index); !spawned) {
                log_error(generation.name() + " worker " + std::to_string(index) +
                          ": cannot start a replacement: " + spawned.error().message);
                generation.workers[slot].started = SteadyClock::now() + kRespawnDelay;
                continue;
            }
            // spawn_worker appended it: move it into the dead worker's slot.
            Worker replacement = std::move(generation.workers.back());
            generation.workers.pop_back();
            log_info(generation.name() + " worker " + std::to_string(index) + " replaced (pid " +
                     std::to_string(replacement.process.pid()) + ")");
            generation.workers[slot] = std::move(replacement);
        }
        return;
    }
    auto draining = std::find_if(draining_.begin(), draining_.end(),
                                 [&](const auto &candidate) { return candidate.get() == &generation; });
    if (draining != draining_.end() && generation.all_exited()) {
        if (handover_ == &generation) complete_handover();
        log_info(generation.name() + " has exited");
        draining_.erase(draining);
        retire_unused_listeners();
    }
}

void Supervisor::on_worker_exit(Generation &generation, Worker &worker, pid_t pid, int status) {
    const std::string who = generation.name() + " worker " + std::to_string(worker.index) + " (pid " +
                            std::to_string(pid) + ")";
    const std::string how = describe_wait_status(status);
    if (&generation == starting_.get()) {
        if (!worker.ready && !worker.failure)
            worker.failure = "exited while starting (" + how + ")";
        else if (worker.ready)
            worker.failure = how + " before the generation was complete";
        return;
    }
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (&generation == serving_.get() && !stopping_) {
        if (worker.failure) log_error(who + ": " + *worker.failure);
        log_error(who + " " + how + "; starting a replacement");
        const bool early = SteadyClock::now() - worker.started < kRespawnDelay;
        worker.started = SteadyClock::now() + (early ? kRespawnDelay : 0s);
        worker.ready = false;
        worker.failure.reset();
        return;
    }
    if (!clean) {
        log_warning(who + " " + how + " while stopping");
        if (stopping_ && &generation == serving_.get()) exit_code_ = exit_runtime_failure;
    } else {
        log_debug(who + " exited");
    }
}

void Supervisor::check_deadlines() {
    const auto now = SteadyClock::now();
    if (starting_ && now >= starting_->deadline)
        fail_starting(starting_->name() + " was not READY within ready_timeout (" +
                      seconds_text(pending_.config.ready_timeout) + ")");
    for (auto &generation : draining_)
        if (now >= generation->deadline && !generation->all_exited()) {
            log_warning(generation->name() + " still running past its drain deadline; killing it");
            generation->signal_all(SIGKILL);
            generation->deadline = now + 1h;
        }
    if (stopping_ && now >= stop_deadline_) {
        log_warning("workers still running past the stop deadline; killing them");
        for (Generation *generation : {serving_.get(), starting_.get()})
            if (generation != nullptr) generation->signal_all(SIGKILL);
        for (auto &generation : draining_) generation->signal_all(SIGKILL);
        stop_deadline_ = now + 1h;
        exit_code_ = exit_runtime_failure;
    }
}

void Supervisor::begin_stop(bool graceful, int signal_number) {
    const int forwarded = graceful ? SIGTERM : SIGINT;
    if (stopping_ && graceful) return;
    if (!stopping_) {
        stopping_ = true;
        notifier_.notify("STOPPING=1\nSTATUS=stopping");
        const auto drain = serving_ ? config_.drain_timeout : pending_.config.drain_timeout;
        stop_deadline_ = SteadyClock::now() + (graceful ? drain : 0ms) + kDrainGrace;
        if (graceful) log_info("SIGTERM: stopping gracefully, in-flight requests have " + std::to_string(drain.count()) + " ms");
        else log_info(std::string(strsignal(signal_number)) + ": stopping now");
        control_.reset();  // no more reload requests
        handover_ = nullptr;
        for (auto &client : clients_) answer_control_client(client, "failed the supervisor is stopping");
        clients_.clear();
        for (auto &waiter : waiting_) answer_control_client(waiter, "failed the supervisor is stopping");
        for (auto &waiter : waiting_next_) answer_control_client(waiter, "failed the supervisor is stopping");
        waiting_.clear();
        waiting_next_.clear();
    } else {
        log_info(std::string(strsignal(signal_number)) + " while stopping: stopping now");
        stop_deadline_ = std::min(stop_deadline_, SteadyClock::now() + kDrainGrace);
    }
    if (starting_)
        for (auto &worker : starting_->workers) worker.process.signal(worker.ready ? forwarded : SIGKILL);
    if (serving_) serving_->signal_all(forwarded);
    for (auto &generation : draining_) generation->signal_all(forwarded);
}

void Supervisor::retire_unused_listeners() {
    std::set<std::string> wanted;
    for (const Generation *generation : {serving_.get(), starting_.get()})
        if (generation != nullptr) wanted.insert(generation->listener_keys.begin(), generation->listener_keys.end());
    for (const auto &generation : draining_) wanted.insert(generation->listener_keys.begin(), generation->listener_keys.end());
    listeners_.retire_all_but(wanted);
}

bool Supervisor::everything_exited() const {
    for (const Generation *generation : {serving_.get(), starting_.get()})
        if (generation != nullptr && !generation->all_exited()) return false;
    return std::all_of(draining_.begin(), draining_.end(), [](const auto &generation) { return generation->all_exited(); });
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
