// The supervisor's state and its event handlers; supervisor.cpp has its loop, the
// workers' exits and the stop, reload.cpp the reload from start to handover. See
// supervisor.cpp for the states a generation moves through.
#pragma once

#include <sockhost/host/host_process.hpp>

#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/supervisor/admin_server.hpp>
#include <sockhost/host/supervisor/control_socket.hpp>
#include <sockhost/host/supervisor/generation.hpp>
#include <sockhost/host/supervisor/listener_set.hpp>
#include <sockhost/host/supervisor/metrics_exposition.hpp>
#include <sockhost/host/supervisor/metrics_totals.hpp>
#include <sockhost/host/supervisor/pid_file.hpp>
#include <sockhost/host/supervisor/systemd_notify.hpp>

#include <poll.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

// Generations still draining beyond this many are cut short (oldest first).
inline constexpr std::size_t kMaxDraining = 4;
// After a promotion, the old generation's workers have this long to say DRAINING before
// the reload is reported complete anyway.
inline constexpr auto kHandoverTimeout = std::chrono::seconds(2);
// How often serving workers are checked for stuck requests and their memory.
inline constexpr auto kWatchInterval = std::chrono::seconds(1);
// Handoff messages queued for one worker that does not read them, at most: each may hold
// two descriptors.
inline constexpr std::size_t kMaxOutbox = 4096;

// " in handle for peer 127.0.0.1:5000 (plugin P on ADDRESS)": where the dead worker `pid`
// was in plugin code, as its activity table says; empty when it says nothing.
std::string crash_site(const Generation &generation, const Worker &worker, pid_t pid);

// Who waits for a reload's outcome: the control clients of the reload under way, and
// those of the one coalesced after it.
struct ReloadWaiters {
    std::vector<ControlClient> current;
    std::vector<ControlClient> next;
    bool again = false;  // a reload was asked for while one was under way

    // `control` holds their connections (none once it is gone).
    void answer_current(ControlServer *control, const std::string &answer) {
        if (control != nullptr)
            for (const auto &client : current) control->answer(client, answer);
        current.clear();
    }
    void answer_all(ControlServer *control, const std::string &answer) {
        answer_current(control, answer);
        if (control != nullptr)
            for (const auto &client : next) control->answer(client, answer);
        next.clear();
        again = false;
    }
};

// After a promotion: the old generation, until every worker of it said DRAINING. Only
// then is the reload reported complete, so a request made after the answer reaches the
// new generation.
// A starting worker's request for a listener's previous state, sent on as an export.
struct PendingExport {
    std::uint64_t id = 0;
    pid_t asker = 0;             // the starting worker
    std::uint32_t listener = 0;  // in the asker's configuration
    pid_t exporter = 0;          // the serving worker asked to export
    std::uint32_t exported_listener = 0;  // in the exporter's configuration
    Clock::time_point deadline;  // state_handoff_timeout
};

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
    // worker_watch.cpp: stuck requests and memory, once per kWatchInterval.
    void watch_workers();
    std::string stuck_requests(const Generation &generation, Worker &worker);
    std::string over_memory_limit(const Generation &generation, Worker &worker);

    // Reloads.
    void request_reload(std::optional<ControlClient> client);
    void begin_reload();
    void reload_failed(const std::string &reason);
    void reload_settled(const std::string &answer);
    void promote_starting();
    void log_first_listeners() const;
    void complete_handover();
    void fail_starting(const std::string &reason);

    // handoff_relay.cpp: connections and state from one generation to the next.
    void on_handoff_messages();
    void on_handoff_message(Generation &generation, Worker &worker, HandoffMessage message);
    void relay_offer(Generation &from, Worker &offerer, HandoffMessage offer);
    void ask_for_state(Generation &generation, Worker &asker, std::uint32_t listener);
    void relay_exported(const Worker &exporter, HandoffMessage exported);
    void answer_export(const PendingExport &pending, HandoffMessage answer);
    void expire_exports();
    std::optional<Clock::time_point> next_export_deadline() const;
    void send_to_worker(Worker &worker, HandoffMessage message);
    void flush_outboxes();
    Worker *worker_with_pid(pid_t pid);

    // admin_endpoint.cpp: the admin endpoint, the metrics and `sockhost status`.
    Result<void> open_admin(const HostConfig &config);
    void reconfigure_admin();
    void on_admin();
    bool ready() const { return generations_.serving != nullptr && !stopping(); }
    std::string metrics_text();
    MetricsSums live_sums() const;
    void worker_reaped(Worker &worker, const Generation &generation);
    void reload_outcome(bool ok);
    std::string status_json();

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
    std::optional<AdminServer> admin_;
    MetricsTotals totals_;             // reaped workers' counters
    SupervisorMetrics supervisor_metrics_;
    std::optional<Clock::time_point> reload_started_;
    std::optional<PidFile> pid_file_;
    ReloadWaiters waiters_;
    std::optional<Handover> handover_;
    Generations generations_;
    int next_generation_ = 1;
    // What every generation's TLS session-ticket keys derive from (tls_context.hpp), made
    // once: a client resumes its session across reloads.
    std::string ticket_secret_;
    std::optional<Clock::time_point> stop_deadline_;  // set once stopping
    Clock::time_point next_watch_{};
    std::vector<PendingExport> pending_exports_;
    std::uint64_t next_export_id_ = 1;
    bool startup_failed_ = false;
    int exit_code_ = exit_ok;
};

}  // namespace sockhost
