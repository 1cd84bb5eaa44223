// The supervisor's side of observability: the admin endpoint in its loop, the sums of
// the workers' metrics tables with the counters of reaped workers, and the answer to
// `sockhost status` on the control socket.
//
// `admin` at a reload: a changed address is bound when the new generation is promoted,
// then the old one is closed; if the new one cannot be bound, the old one stays open and
// answers on (logged).
#include "supervisor.hpp"

#include <sockhost/host/shared/log.hpp>

#include <nlohmann/json.hpp>

namespace sockhost {

Result<void> Supervisor::open_admin(const HostConfig &config) {
    if (!config.admin) return {};
    auto admin = AdminServer::open(*config.admin);
    if (!admin) return std::unexpected(admin.error());
    log_info("admin endpoint on " + admin->bound_text());
    admin_ = std::move(*admin);
    return {};
}

namespace {

// Whether binding `wanted` can fail only because `current` holds it: the same Unix path,
// or the same TCP port (a wildcard and a specific host of one port overlap).
bool may_overlap(const AdminServer &current, const ListenAddress &wanted) {
    const auto bound = parse_listen_address(current.bound_text());
    if (!bound || bound->transport != wanted.transport) return false;
    if (wanted.transport == Transport::unix_stream) return bound->path == wanted.path;
    return wanted.port != 0 && bound->port == wanted.port;
}

}  // namespace

void Supervisor::reconfigure_admin() {
    const std::string was = admin_ ? admin_->address().text() : "";
    const std::string wanted = config_.admin ? config_.admin->text() : "";
    if (was == wanted) return;
    if (!config_.admin) {
        log_info("admin endpoint " + was + " closed: no longer configured");
        admin_.reset();
        return;
    }
    const std::string was_bound = admin_ ? admin_->bound_text() : "";
    // The new address is bound while the old one still answers: a failure changes nothing.
    auto admin = AdminServer::open(*config_.admin);
    if (!admin && admin_ && may_overlap(*admin_, *config_.admin)) {
        // The old endpoint may be what holds the address: closed first, bound again (as it
        // was bound: a port 0 keeps its port) if the new one still fails.
        const auto old_address = parse_listen_address(was_bound);
        admin_.reset();
        admin = AdminServer::open(*config_.admin);
        if (!admin && old_address) {
            auto reopened = AdminServer::open(*old_address);
            if (reopened) admin_ = std::move(*reopened);
            else log_error(reopened.error().message);
        }
    }
    if (admin) {
        log_info("admin endpoint moved to " + admin->bound_text() + (was.empty() ? "" : " (was " + was_bound + ")"));
        admin_ = std::move(*admin);
        return;
    }
    log_error(admin.error().message + "; the admin endpoint stays on " + (admin_ ? admin_->bound_text() : "nothing"));
    // What answers now; the next reload tries the configured address again.
    if (admin_) config_.admin = admin_->address();
    else config_.admin.reset();
}

void Supervisor::on_admin() {
    if (!admin_) return;
    AdminPages pages{[this] { return ready(); }, [this] { return metrics_text(); }};
    admin_->serve(pages);
}

void Supervisor::worker_reaped(Worker &worker, const Generation &generation) {
    if (!worker.metrics) return;
    totals_.fold(worker.metrics->table(), generation.metric_labels);
    worker.metrics.reset();  // counted once: its table is gone with it
}

void Supervisor::reload_outcome(bool ok) {
    const auto seconds = reload_started_ ? std::chrono::duration<double>(Clock::now() - *reload_started_).count() : 0.0;
    supervisor_metrics_.record_reload(ok, seconds);
    reload_started_.reset();
}

MetricsSums Supervisor::live_sums() const {
    MetricsSums sums;
    generations_.for_each([&](const Generation &generation) {
        for (const auto *group : {&generation.workers, &generation.retiring})
            for (const auto &worker : *group)
                if (worker.metrics && worker.process.pid() > 0) sums.add(worker.metrics->table(), generation.metric_labels, false);
    });
    return sums;
}

std::string Supervisor::metrics_text() {
    MetricsSums sums = live_sums();
    sums.add(totals_.retired());
    SupervisorMetrics &metrics = supervisor_metrics_;
    metrics.generation = generations_.serving ? generations_.serving->number : 0;
    metrics.workers = {{"starting", 0}, {"serving", 0}, {"draining", 0}, {"retiring", 0}};
    metrics.workers_process = {};
    const auto count = [&](const std::vector<Worker> &workers, const char *state) {
        for (const auto &worker : workers) {
            if (worker.process.pid() <= 0) continue;
            ++metrics.workers[state];
            const auto stats = read_process_stats(worker.process.pid());
            metrics.workers_process.cpu_seconds += stats.cpu_seconds;
            metrics.workers_process.resident_bytes += stats.resident_bytes;
            metrics.workers_process.open_fds += stats.open_fds;
        }
    };
    if (generations_.starting) count(generations_.starting->workers, "starting");
    if (generations_.serving) count(generations_.serving->workers, "serving");
    for (const auto &generation : generations_.draining) count(generation->workers, "draining");
    generations_.for_each([&](const Generation &generation) { count(generation.retiring, "retiring"); });
    metrics.supervisor = read_process_stats(0);
    return render_metrics(sums, metrics);
}

std::string Supervisor::status_json() {
    using nlohmann::json;
    json generations = json::array();
    const auto now = Clock::now();
    const auto add = [&](const Generation &generation, const char *state) {
        json workers = json::array();
        for (const auto *group : {&generation.workers, &generation.retiring})
            for (const auto &worker : *group) {
                if (worker.process.pid() <= 0) continue;
                const char *worker_state = group == &generation.retiring ? "retiring"
                                           : worker.draining             ? "draining"
                                           : worker.ready                ? "ready"
                                                                         : "starting";
                workers.push_back({{"pid", worker.process.pid()},
                                   {"state", worker_state},
                                   {"since", std::chrono::duration<double>(now - worker.started).count()}});
            }
        generations.push_back({{"number", generation.number}, {"state", state}, {"workers", std::move(workers)}});
    };
    if (generations_.serving) add(*generations_.serving, "serving");
    if (generations_.starting) add(*generations_.starting, "starting");
    for (const auto &generation : generations_.draining) add(*generation, "draining");
    MetricsSums sums = live_sums();
    sums.add(totals_.retired());
    json listeners = json::array();
    for (const auto &[labels, counters] : sums.listeners) {
        json requests = json::object();
        for (std::size_t outcome = 0; outcome < kRequestOutcomes; ++outcome)
            requests[std::string(outcome_name(static_cast<RequestOutcome>(outcome)))] = counters.requests[outcome];
        listeners.push_back({{"address", labels.listener},
                             {"plugin", labels.plugin},
                             {"mode", labels.mode},
                             {"requests", std::move(requests)},
                             {"connections_open", counters.connections_open},
                             {"received_bytes", counters.received_bytes},
                             {"sent_bytes", counters.sent_bytes}});
    }
    json status = {{"generations", std::move(generations)}, {"listeners", std::move(listeners)}, {"ready", ready()}};
    return status.dump(-1, ' ', true, json::error_handler_t::replace);
}

}  // namespace sockhost
