// The supervisor: owns every listener, never loads a plugin, never runs handler code. It
// runs generations of workers (generation.hpp) and moves between them on reload:
//
//   starting N+1 --all workers READY--> serving N+1, N draining --all exited--> N gone
//        \--a worker failed / ready_timeout--> N+1 stopped, N keeps serving
//
// One thread, one poll() loop over a signalfd, the control socket and its clients
// (control_socket.hpp), and each worker's status pipe and pidfd.
#include "supervisor.hpp"

#include <sockhost/host/shared/descriptor_limit.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/shared/log.hpp>

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sockhost/host/shared/tls_context.hpp>

#include <algorithm>
#include <memory>

namespace sockhost {

using namespace std::chrono_literals;

Result<void> Supervisor::start() {
    auto effective = read_effective_config(config_file_);
    if (!effective) return std::unexpected(effective.error());
    set_log_threshold(effective->config.log_level);
    auto ticket_secret = TicketSecret::random();
    if (!ticket_secret) return std::unexpected(ticket_secret.error());
    ticket_secret_ = ticket_secret->to_hex();
    effective->snapshot.tls_ticket_secret = ticket_secret_;
    for (const auto &note : effective->notes) log_info(note);
    const sigset_t handled = stop_signals();
    signals_ = UniqueFd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_) return fail_errno("signalfd");
    // Handed-over connections pass through here: a burst of them needs descriptors.
    raise_descriptor_limit();

    auto activated = take_inherited_listeners();
    if (!activated) return fail("socket activation: " + activated.error().message);
    listeners_.offer_activated(std::move(*activated));

    if (!effective->config.control_socket.empty()) {
        auto control = ControlServer::open(effective->config.control_socket);
        if (!control) return std::unexpected(control.error());
        control_ = std::move(*control);
    }
    if (auto admin = open_admin(effective->config); !admin) return admin;
    if (!effective->config.pid_file.empty()) {
        auto pid_file = PidFile::write(effective->config.pid_file);
        if (!pid_file) return std::unexpected(pid_file.error());
        pid_file_ = std::move(*pid_file);
    }
    pending_ = std::move(*effective);
    auto generation = start_generation(next_generation_++, binary_, pending_, listeners_);
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
    admin_.reset();
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
        on_admin();
        on_starting();
        on_serving();
        on_draining();
        on_handoff_messages();
        watch_workers();
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
    if (admin_) admin_->watch(watched);
    generations_.for_each([&](const Generation &generation) {
        for (const auto &worker : generation.workers) {
            if (worker.status.open()) watched.push_back({worker.status.fd(), POLLIN, 0});
            if (worker.process.pidfd() >= 0) watched.push_back({worker.process.pidfd(), POLLIN, 0});
            if (worker.handoff.open())
                watched.push_back({worker.handoff.fd(), static_cast<short>(POLLIN | (worker.outbox.empty() ? 0 : POLLOUT)), 0});
        }
        for (const auto &worker : generation.retiring) {
            if (worker.process.pidfd() >= 0) watched.push_back({worker.process.pidfd(), POLLIN, 0});
            if (worker.handoff.open()) watched.push_back({worker.handoff.fd(), POLLIN, 0});
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
    earlier(next_export_deadline());
    if (control_) earlier(control_->next_deadline());
    if (admin_) earlier(admin_->next_deadline());
    // No replacement starts while stopping: its time, passed, must not make the loop spin.
    if (generations_.serving && !stopping()) {
        earlier(generations_.serving->next_respawn());
        earlier(next_watch_);
    }
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
    for (auto &client : control_->take_reload_requests([this] { return status_json(); }))
        request_reload(std::move(client));
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
    if (stopping()) return;
    serving->settle_replacements(config_.drain_timeout);
    serving->respawn_dead_workers();
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
    generation.reap_retiring([&](Worker &worker) { worker_reaped(worker, generation); });
    for (auto &worker : generation.workers) {
        const pid_t pid = worker.process.pid();
        if (pid <= 0) continue;
        const auto status = worker.process.try_reap();
        if (!status) continue;
        generation.read_status(worker);  // a FAILED line written just before it exited
        worker_reaped(worker, generation);
        worker.status.close();
        const std::string how =
            describe_wait_status(*status) +
            (WIFSIGNALED(*status) ? crash_site(generation, worker, pid) + generation.changed_plugin_files(worker) : "");
        if (starting) {
            if (!worker.ready && !worker.failure) worker.failure = "exited while starting (" + how + ")";
            else if (worker.ready) worker.failure = how + " before the generation was complete";
            continue;
        }
        const std::string who = generation.describe(worker, pid);
        if (serving && !stopping()) {
            if (worker.failure) log_error(who + ": " + *worker.failure);
            const auto delay = worker.schedule_respawn();
            ++supervisor_metrics_.worker_restarts;
            log_error(who + " " + how + "; starting a replacement " +
                      (delay.count() == 0 ? std::string("now")
                                          : "in " + std::to_string(delay.count()) + " s (exit " +
                                                std::to_string(worker.quick_exits) + " in a row within " +
                                                std::to_string(Worker::kHealthyUptime.count()) + " s of its start)") +
                      "; it served " + generation.serves(worker));
        } else if (stopping() && !worker.ready && !serving) {
            log_debug(who + " " + how + ": stopped before it was ready");
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
                      duration_text(pending_.config.ready_timeout) + ")");
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

void Supervisor::begin_stop(bool graceful, int signal_number) {
    const int forwarded = graceful ? SIGTERM : SIGINT;
    if (stopping() && graceful) return;
    if (!stopping()) {
        notifier_.notify("STOPPING=1\nSTATUS=stopping");
        const auto drain = generations_.serving ? config_.drain_timeout : pending_.config.drain_timeout;
        stop_deadline_ = Clock::now() + (graceful ? drain : 0ms) + kDrainGrace;
        if (graceful) log_info("SIGTERM: stopping gracefully, in-flight requests have " + std::to_string(drain.count()) + " ms");
        else log_info(std::string(strsignal(signal_number)) + ": stopping now");
        // No more requests; answers under way are still written while the loop runs.
        if (control_) control_->close("the supervisor is stopping");
        handover_.reset();
        waiters_.answer_all(control_ ? &*control_ : nullptr, "failed the supervisor is stopping");
    } else {
        log_info(std::string(strsignal(signal_number)) + " while stopping: stopping now");
        stop_deadline_ = std::min(*stop_deadline_, Clock::now() + kDrainGrace);
    }
    if (generations_.starting) {
        // A stop ends the start: workers that reported READY may hold requests and drain;
        // the rest never served anything and are killed (one stuck loading a plugin would
        // not heed SIGTERM). The generation is then waited for like a draining one, and
        // its workers' exits are no failure: a stop during start-up is a clean stop.
        for (auto &worker : generations_.starting->workers) worker.process.signal(worker.ready ? forwarded : SIGKILL);
        log_info(generations_.starting->name() + " was still starting: stopped");
        generations_.starting->deadline = *stop_deadline_;  // not its ready deadline: READY ones drain
        generations_.draining.push_back(std::move(generations_.starting));
    }
    if (generations_.serving) generations_.serving->signal_all(forwarded);
    for (auto &generation : generations_.draining) generation->signal_all(forwarded);
}

namespace {

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
