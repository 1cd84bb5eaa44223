// Reload: read the files again, start generation N+1, promote it when every worker is
// READY (N drains), or fail it and keep N. Requests that arrive meanwhile are coalesced
// into one more reload.
#include "supervisor.hpp"

#include <sockhost/host/shared/log.hpp>

#include <signal.h>

#include <algorithm>

namespace sockhost {

using namespace std::chrono_literals;

void Supervisor::request_reload(std::optional<ControlClient> client) {
    if (stopping()) {
        if (client && control_) control_->answer(*client, "failed the supervisor is stopping");
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
    reload_started_ = Clock::now();
    auto effective = read_effective_config(config_file_);
    if (!effective) return reload_failed(effective.error().message);
    for (const auto &note : effective->notes) log_info(note);
    effective->snapshot.tls_ticket_secret = ticket_secret_;
    auto generation = start_generation(next_generation_++, binary_, *effective, listeners_);
    if (!generation) {
        retire_unused_listeners();
        return reload_failed(generation.error().message);
    }
    pending_ = std::move(*effective);
    generations_.starting = std::move(*generation);
    log_info("reload: " + generations_.starting->name() + " starting with " +
             std::to_string(pending_.config.listeners.size()) + " listener(s) and " +
             std::to_string(generations_.starting->workers.size()) + " worker(s)");
}

// A reload has its outcome: its waiters get it, and a coalesced reload starts.
void Supervisor::reload_settled(const std::string &answer) {
    waiters_.answer_current(control_ ? &*control_ : nullptr, answer);
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
    reload_outcome(false);
    notifier_.notify("READY=1\nSTATUS=reload failed (" + kept + "): " + reason);
    reload_settled("failed " + reason);
}

void Supervisor::promote_starting() {
    auto &serving = generations_.serving;
    auto &draining = generations_.draining;
    std::unique_ptr<Generation> promoted = std::move(generations_.starting);
    const bool first = serving == nullptr;
    config_ = pending_.config;
    reconfigure_admin();
    if (!first) reload_outcome(true);
    if (first) {
        serving = std::move(promoted);
        log_first_listeners();
        complete_handover();
        return;
    }
    serving->deadline = Clock::now() + config_.drain_timeout + kDrainGrace;
    serving->drain_all();  // its idle connections move to the promoted generation
    log_info("reload: " + promoted->name() + " is serving; " + serving->name() + " drains (at most " +
             duration_text(config_.drain_timeout) + ")");
    draining.push_back(std::move(serving));
    // Cut short the oldest that still drain; one cut already waits out its grace.
    std::size_t still_draining = 0;
    for (const auto &generation : draining) still_draining += generation->cut_short ? 0 : 1;
    for (auto &generation : draining) {
        if (still_draining <= kMaxDraining) break;
        if (generation->cut_short) continue;
        log_warning(generation->name() + ": more than " + std::to_string(kMaxDraining) +
                    " generations draining; stopping it now");
        generation->signal_all(SIGINT);
        generation->deadline = std::min(generation->deadline, Clock::now() + kDrainGrace);
        generation->cut_short = true;
        --still_draining;
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
             std::to_string(generations_.serving->workers.size()) + " worker(s), " + generations_.serving->name());
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

}  // namespace sockhost
