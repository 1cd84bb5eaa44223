// The worker: one process of a generation. It never binds: its listeners are inherited
// from the supervisor, whose copies stay open, so nothing here may shutdown() them, change
// their blocking mode or remove a Unix path (ListenerSocket::adopt does neither).
#include <sockhost/host/host_process.hpp>

#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/shared/listener.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/plugin/plugin_set.hpp>
#include <sockhost/host/shared/descriptor_limit.hpp>
#include <sockhost/host/shared/worker_channel.hpp>
#include <sockhost/host/shared/privileges.hpp>
#include <sockhost/host/shared/tls_context.hpp>
#include <sockhost/host/worker/generation_handoff.hpp>
#include <sockhost/host/worker/parked_handover.hpp>
#include <sockhost/host/worker/request_activity.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>
#include <sockhost/host/worker/connection_registry.hpp>
#include <sockhost/host/worker/request_metrics.hpp>
#include <sockhost/host/worker/server.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

namespace sockhost {

namespace {

// Adopts the inherited listeners, in config order. Wrapping an fd changes nothing about
// the socket (see ListenerSocket::adopt).
Result<std::vector<ListenerSocket>> adopt_listeners(const HostConfig &config, std::vector<InheritedListener> inherited) {
    if (inherited.size() != config.listeners.size())
        return fail("inherited " + std::to_string(inherited.size()) + " listener(s) for " +
                    std::to_string(config.listeners.size()) + " configured");
    std::vector<ListenerSocket> sockets;
    for (std::size_t index = 0; index < inherited.size(); ++index) {
        auto socket = ListenerSocket::adopt(std::move(inherited[index].fd), config.listeners[index].address);
        if (!socket) return std::unexpected(socket.error());
        sockets.push_back(std::move(*socket));
    }
    return sockets;
}

// The descriptors the listeners may hold at once (a connection each, at their caps), with
// room for the worker's own; warned about when the limit is lower, since past it accepts
// fail until connections end.
void warn_if_descriptors_cannot_fit(const HostConfig &config) {
    constexpr std::uint64_t kOwnDescriptors = 64;  // listeners, eventfds, epoll, plugins' files
    std::uint64_t needed = kOwnDescriptors;
    for (const auto &listener : config.listeners) {
        if (is_datagram(listener.address.transport)) continue;
        const auto &options = listener.options;
        switch (options.mode) {
        case Mode::sync: needed += 1; break;
        case Mode::threading: needed += static_cast<std::uint64_t>(options.max_threads); break;
        case Mode::forking: needed += static_cast<std::uint64_t>(options.max_children); break;
        case Mode::event: needed += static_cast<std::uint64_t>(options.max_connections); break;
        }
    }
    const rlim_t limit = raise_descriptor_limit();
    if (limit != RLIM_INFINITY && needed > limit)
        log_warning("descriptors: the listeners may hold " + std::to_string(needed) +
                    " at once (max_connections, max_threads, max_children), but this worker may open " +
                    std::to_string(limit) + " (RLIMIT_NOFILE); raise the hard limit (LimitNOFILE= under systemd) "
                    "or lower the caps");
}

// Opened before any change of user, as a master process opens its logs: the files may be
// in a directory only root writes. A file that cannot be opened fails this worker's start
// (and so a reload), never a running generation.
Result<std::vector<std::unique_ptr<AccessLog>>> open_access_logs(const HostConfig &config) {
    std::vector<std::unique_ptr<AccessLog>> logs(config.listeners.size());
    for (std::size_t index = 0; index < config.listeners.size(); ++index) {
        const auto &listener = config.listeners[index];
        if (listener.options.access_log.empty()) continue;
        auto log = AccessLog::open(listener.options.access_log, listener.address.text());
        if (!log) return std::unexpected(log.error());
        logs[index] = std::move(*log);
    }
    return logs;
}

// Everything is adopted, loaded and created before the first request is served. Plugins
// are loaded only after the switch to `user`, so no plugin code ever runs as root; the
// supervisor bound the listeners (ports below 1024, socket owners) before.
Result<std::vector<std::unique_ptr<Server>>> start_servers(const HostConfig &config,
                                                          std::vector<InheritedListener> inherited,
                                                          const std::vector<int> &group_listeners,
                                                          const HandoffChannel &channel, const WorkerPlace &worker) {
    auto sockets = adopt_listeners(config, std::move(inherited));
    if (!sockets) return std::unexpected(sockets.error());
    auto access_logs = open_access_logs(config);
    if (!access_logs) return std::unexpected(access_logs.error());
    if (config.run_as) {
        const pid_t supervisor = ::getppid();
        if (auto dropped = drop_privileges(*config.run_as); !dropped) return std::unexpected(dropped.error());
        // A change of credentials clears the parent-death signal (prctl(2)): without arming
        // it again, a worker would outlive a supervisor killed by SIGKILL.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != supervisor) return fail("the supervisor exited while this worker started");
        log_info("running as user " + describe_run_as(*config.run_as));
    }
    if (!config.strict_modes)
        log_warning("strict_modes is false: plugin files are loaded without checking their owner and mode");
    warn_if_descriptors_cannot_fit(config);
    auto plugins = load_plugins(config, plugins_in_use(config));
    if (!plugins) return std::unexpected(plugins.error());
    for (const auto &[name, plugin] : *plugins) {
        const auto &descriptor = plugin->descriptor();  // checked: name and version are set
        log_info("loaded plugin " + plugin->file().string() + ": " + descriptor.name + " " + descriptor.version +
                 ", ABI " + std::to_string(descriptor.abi_major) + "." + std::to_string(descriptor.abi_minor));
    }
    std::optional<TicketSecret> ticket_secret;
    if (!config.tls_ticket_secret.empty()) {
        auto secret = TicketSecret::from_hex(config.tls_ticket_secret);
        if (!secret) return std::unexpected(secret.error());
        ticket_secret = *secret;
    }
    std::vector<std::unique_ptr<Server>> servers;
    for (std::size_t index = 0; index < config.listeners.size(); ++index) {
        const auto &listener = config.listeners[index];
        std::shared_ptr<const TlsContext> tls;
        if (listener.options.tls) {
            auto context = TlsContext::create(*listener.options.tls, "listener " + listener.address.text(), ticket_secret);
            if (!context) return std::unexpected(context.error());
            if (listener.options.tls->kernel_tls && !(*context)->kernel_tls_available())
                log_warning("listener " + listener.address.text() +
                            ": tls.kernel_tls: this kernel offers no kernel TLS (no tls module): records stay in OpenSSL");
            tls = std::move(*context);
        }
        auto handler = create_listener_handler(
            *plugins, listener, group_listeners.empty() ? static_cast<int>(index) : group_listeners[index],
            {worker.generation, worker.index, (*sockets)[index].bound_text()});
        if (!handler) return std::unexpected(handler.error());
        if (auto initialized = (*handler)->process_init(); !initialized)
            return fail("listener " + listener.address.text() + ": " + initialized.error().message);
        std::unique_ptr<ConnectionHandoff> handoff;
        if (!is_datagram(listener.address.transport)) {
            auto created = ConnectionHandoff::create(
                channel, (*handler)->listener_index(),
                // A TLS session cannot move to another process (docs/security.md).
                (*handler)->hands_off_connections() && listener.options.handoff && !tls, listener.options.timeout);
            if (!created) return std::unexpected(created.error());
            handoff = std::move(*created);
        }
        auto server = Server::create(std::move((*sockets)[index]), listener.options,
                                     std::shared_ptr<Handler>(std::move(*handler)), std::move(handoff),
                                     std::move((*access_logs)[index]), std::move(tls));
        if (!server) return std::unexpected(server.error());
        servers.push_back(std::move(*server));
    }
    return servers;
}

enum class StopKind { graceful, reload_drain, fast };

// Serves the handoff channel until a stop: SIGTERM (graceful), the supervisor's drain (a
// reload: graceful, and idle connections move), SIGINT or SIGQUIT (fast). SIGHUP is for
// the supervisor; a worker ignores it.
StopKind serve_until_stop(const HandoffChannel &channel, const Servers &servers, const HostConfig &config) {
    const sigset_t signals = stop_signals();
    UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    bool channel_open = channel.open();
    // Parked connections (connection_handoff.hpp) are watched here until their first byte.
    std::vector<ConnectionHandoff *> parking;
    for (const auto &server : servers)
        if (server->handoff() != nullptr && server->handoff()->enabled()) parking.push_back(server->handoff());
    std::vector<pollfd> watched(2 + parking.size());
    for (;;) {
        watched[0] = {signal_fd.get(), POLLIN, 0};
        watched[1] = {channel_open ? channel.fd() : -1, POLLIN, 0};
        for (std::size_t index = 0; index < parking.size(); ++index)
            watched[2 + index] = {parking[index]->parked_fd(), POLLIN, 0};
        if (!signal_fd) {  // no signalfd (out of descriptors): signals alone, as before
            siginfo_t info{};
            const int signal_number = ::sigwaitinfo(&signals, &info);
            if (signal_number == SIGTERM) return StopKind::graceful;
            if (signal_number == SIGINT || signal_number == SIGQUIT) return StopKind::fast;
            continue;
        }
        std::optional<Clock::time_point> expiry;
        for (ConnectionHandoff *handoff : parking)
            if (const auto next = handoff->next_idle_expiry(); next && (!expiry || *next < *expiry)) expiry = next;
        int wait_ms = -1;
        if (expiry) {
            const auto left = std::clamp<Clock::duration>(*expiry - Clock::now(), Clock::duration::zero(), std::chrono::hours(1));
            wait_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
        }
        if (::poll(watched.data(), watched.size(), wait_ms) < 0) continue;  // EINTR
        for (std::size_t index = 0; index < parking.size(); ++index) {
            if (watched[2 + index].revents != 0) parking[index]->wake_parked();
            if (expiry) parking[index]->close_idle_expired(Clock::now());
        }
        signalfd_siginfo info{};
        while (::read(signal_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            const int signal_number = static_cast<int>(info.ssi_signo);
            if (signal_number == SIGHUP) continue;
            if (signal_number == SIGTERM) return StopKind::graceful;
            log_info(std::string(strsignal(signal_number)) + ": stopping now");
            return StopKind::fast;
        }
        while (channel_open && (watched[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            auto no_fork = ConnectionHandoff::hold_off_forks();
            auto received = channel.receive();
            if (received.result == HandoffChannel::ReceiveResult::would_block) break;
            if (received.result == HandoffChannel::ReceiveResult::closed) {
                channel_open = false;  // the supervisor is gone: its death signal follows
                break;
            }
            if (received.result == HandoffChannel::ReceiveResult::malformed) {
                received.message.fds.clear();  // closed before a fork may copy them
                no_fork.unlock();              // a log write may wait
                log_warning("handoff channel: ignored " + received.problem);
                continue;
            }
            if (received.message.type == HandoffType::drain) return StopKind::reload_drain;
            // A take's descriptors are queued before a fork may copy them; anything else
            // (an export runs plugin code) is handled with forks allowed again.
            const bool take = received.message.type == HandoffType::take;
            if (!take) no_fork.unlock();
            on_handoff_message(channel, servers, std::move(received.message), config);
            // A burst of takes can keep this thread here until the next drain arrives right
            // behind it (reloads in quick succession): a connection taken with a request on
            // its way goes to the loop now, to be served by this generation.
            if (take)
                for (ConnectionHandoff *handoff : parking) handoff->wake_parked();
        }
    }
}

// During a graceful stop: waits until `until` for SIGINT or SIGQUIT, which turn it into a
// fast stop (true).
bool fast_stop_requested(const sigset_t &signals, Clock::time_point until) {
    const auto left = std::max(Clock::duration::zero(), until - Clock::now());
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    const timespec timeout{static_cast<time_t>(seconds.count()),
                           static_cast<long>(std::chrono::nanoseconds(left - seconds).count())};
    const int signal_number = ::sigtimedwait(&signals, nullptr, &timeout);
    if (signal_number != SIGINT && signal_number != SIGQUIT) return false;
    log_info(std::string(strsignal(signal_number)) + " while stopping: cancelling in-flight requests now");
    return true;
}

// The configuration, narrowed to this worker's group: the listeners it was given, by
// their indices in the whole configuration (the supervisor composed the same one).
Result<HostConfig> worker_config(int config_fd, const std::vector<int> &group_listeners) {
    auto text = read_config_memfd(config_fd);
    if (!text) return std::unexpected(text.error());
    auto snapshot = ConfigSnapshot::from_json(*text);
    if (!snapshot) return std::unexpected(snapshot.error());
    auto config = compose_config(*snapshot);
    if (!config || group_listeners.empty()) return config;
    std::vector<ListenerConfig> kept;
    for (const int index : group_listeners) {
        if (index < 0 || static_cast<std::size_t>(index) >= config->listeners.size() ||
            (!kept.empty() && index <= group_listeners[kept.size() - 1]))
            return fail("listener index " + std::to_string(index) + " is not one of the " +
                        std::to_string(config->listeners.size()) + " configured, in order");
        kept.push_back(std::move(config->listeners[static_cast<std::size_t>(index)]));
    }
    config->listeners = std::move(kept);
    return config;
}

}  // namespace

namespace {

// One loop thread per listener; joined at the latest when this goes. A loop whose listener
// fails stops the worker: it sends SIGINT to its own process.
class ListenerLoops {
public:
    ~ListenerLoops() { join(); }

    Result<void> start(const std::vector<std::unique_ptr<Server>> &servers, const std::string &who) {
        try {
            for (const auto &server : servers) {
                log_debug(who + " serving " + server->listener().bound_text() + " (plugin " +
                          std::string(server->handler().name()) + ", mode " +
                          std::string(mode_name(server->options().mode)) + ")");
                running_.fetch_add(1);
                threads_.emplace_back([this, serving = server.get()] { serve(*serving); });
            }
        } catch (const std::system_error &error) {
            running_.fetch_sub(1);
            failures_.fetch_add(1);
            return fail(std::string("cannot start a listener thread: ") + error.what());
        }
        return {};
    }

    bool any_running() const { return running_.load() > 0; }
    bool failed() const { return failures_.load() > 0; }

    void join() {
        for (auto &thread : threads_) thread.join();
        threads_.clear();
    }

private:
    void serve(Server &server) {
        if (auto served = server.serve_forever(); !served) {
            log_error(served.error().message);
            failures_.fetch_add(1);
            ::kill(::getpid(), SIGINT);  // one broken listener stops the host
        }
        running_.fetch_sub(1);
    }

    std::atomic<int> failures_{0};
    std::atomic<std::size_t> running_{0};
    std::vector<std::thread> threads_;
};

// The stop sequence (docs/architecture.md, "Stopping"): stop accepting, say DRAINING, let
// requests in flight finish until the deadline (a fast-stop signal cuts it short), then
// cancel what is left, join the loops and close every server.
void stop_servers(std::vector<std::unique_ptr<Server>> &servers, ListenerLoops &loops, StopKind kind,
                  std::chrono::milliseconds drain_timeout, int status_fd, const HandoffChannel &channel) {
    const bool graceful = kind != StopKind::fast;
    if (kind == StopKind::graceful)
        log_info("SIGTERM: stopping gracefully, in-flight requests have " + std::to_string(drain_timeout.count()) + " ms");
    else if (kind == StopKind::reload_drain)
        log_info("draining for a reload: idle connections of plugins that allow it move to the next generation; "
                 "in-flight requests have " + std::to_string(drain_timeout.count()) + " ms");
    const sigset_t signals = stop_signals();
    const auto deadline = Clock::now() + (graceful ? drain_timeout : std::chrono::milliseconds(0));
    const auto next_check = [&] { return std::min(deadline, Clock::now() + std::chrono::milliseconds(50)); };
    bool fast = !graceful;
    if (kind == StopKind::reload_drain)
        for (auto &server : servers)
            if (server->handoff() != nullptr) server->handoff()->begin_reload_drain();
    for (auto &server : servers)
        if (server->handoff() != nullptr) server->handoff()->refuse_from_now();
    for (auto &server : servers) {
        server->shutdown();
        // Without block_on_close (or on a fast stop) in-flight requests are not waited for.
        if (fast || !server->options().block_on_close) server->cancel_requests();
    }
    // Every loop has been told to stop accepting: the supervisor may now tell whoever
    // asked for the reload that new connections go to the new generation.
    report_status(status_fd, WorkerStatus::draining);
    ::close(status_fd);
    // Connections parked here since they came move on from this thread, in batches; the
    // loops' idle requests offer their own meanwhile.
    std::vector<ConnectionHandoff *> handoffs;
    for (auto &server : servers)
        if (server->handoff() != nullptr) handoffs.push_back(server->handoff());
    if (kind == StopKind::reload_drain)
        hand_over_held_connections(channel, handoffs, deadline, [&] {
            fast = fast || fast_stop_requested(signals, Clock::now());
            return fast;
        });
    for (ConnectionHandoff *handoff : handoffs) handoff->close_held();
    // A sync listener's loop runs its request itself: wait for the loops, then for the
    // threading and forking modes' requests, each until the deadline or a fast-stop signal.
    while (!fast && loops.any_running() && Clock::now() < deadline) fast = fast_stop_requested(signals, next_check());
    if (loops.any_running()) {
        if (!fast) log_warning("requests still in flight at the stop deadline; cancelling them");
        for (auto &server : servers) server->cancel_requests();
    }
    loops.join();
    while (!fast && Clock::now() < deadline) {
        bool idle = true;
        for (auto &server : servers) idle = server->wait_idle(next_check()) && idle;
        if (idle) break;
        fast = fast_stop_requested(signals, Clock::now());
    }
    for (auto &server : servers) server->close(fast ? Clock::now() : deadline);
    servers.clear();  // closes this worker's copies of the listeners; the supervisor keeps its own
}

}  // namespace

int run_worker(const WorkerArguments &arguments) {
    // The supervisor logs a failure reported here, once, with what it means for the reload.
    const auto refuse = [&](const Error &error) {
        report_status(arguments.status_fd, WorkerStatus::failed, error.message);
        return exit_startup_failure;
    };
    auto inherited = take_inherited_listeners();
    if (!inherited) return refuse(inherited.error());
    auto config = worker_config(arguments.config_fd, arguments.listeners);
    ::close(arguments.config_fd);
    if (!config) return refuse(config.error());
    set_log_threshold(config->log_level);
    std::optional<ActivityMapping> activity;
    if (arguments.activity_fd >= 0) {
        auto mapping = ActivityMapping::adopt(UniqueFd(arguments.activity_fd));
        if (!mapping) return refuse(mapping.error());
        activity = std::move(*mapping);
        install_activity_table(&activity->table());
    }
    std::optional<MetricsMapping> metrics;
    if (arguments.metrics_fd >= 0) {
        auto mapping = MetricsMapping::adopt(UniqueFd(arguments.metrics_fd));
        if (!mapping) return refuse(mapping.error());
        metrics = std::move(*mapping);
        install_metrics_table(&metrics->table());
    }
    HandoffChannel channel;
    if (arguments.handoff_fd >= 0) {
        channel = HandoffChannel(UniqueFd(arguments.handoff_fd));
        // The main thread's few sends (state requests, exports) must not wait forever on a
        // supervisor that stops reading; requests send without waiting (ConnectionHandoff).
        const timeval send_timeout{2, 0};
        ::setsockopt(channel.fd(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    }
    const auto forks = [](const ListenerConfig &listener) { return listener.options.mode == Mode::forking; };
    if (config->listeners.size() > 1 && std::any_of(config->listeners.begin(), config->listeners.end(), forks))
        ConnectionRegistry::enable();  // its request children close the other listeners' connections
    auto servers = start_servers(*config, std::move(*inherited), arguments.listeners, channel,
                                 {static_cast<std::uint64_t>(arguments.generation),
                                  static_cast<std::uint32_t>(arguments.index), {}});
    if (!servers) return refuse(servers.error());
    if (auto imported = import_previous_state(channel, *servers, *config); !imported) return refuse(imported.error());
    const std::string who = "generation " + std::to_string(arguments.generation) + " worker " +
                            std::to_string(arguments.index);
    ListenerLoops loops;
    StopKind stop = StopKind::fast;
    if (auto started = loops.start(*servers, who); !started) {
        log_error(started.error().message);
    } else {
        report_status(arguments.status_fd, WorkerStatus::ready);
        stop = serve_until_stop(channel, *servers, *config);
    }
    stop_servers(*servers, loops, stop, config->drain_timeout, arguments.status_fd, channel);
    log_info(who + " stopped");
    return loops.failed() ? exit_runtime_failure : exit_ok;
}

}  // namespace sockhost
