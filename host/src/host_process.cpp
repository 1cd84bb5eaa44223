#include <sockhost/host/host_process.hpp>

#include <sockhost/host/listener.hpp>
#include <sockhost/host/log.hpp>
#include <sockhost/host/plugin_loader.hpp>
#include <sockhost/host/privileges.hpp>
#include <sockhost/host/server.hpp>

#include <signal.h>

#include <map>
#include <thread>

namespace sockhost {

namespace {

sigset_t stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    for (const int signal_number : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&signals, signal_number);
    return signals;
}

Result<std::map<std::string, std::shared_ptr<LoadedPlugin>>> load_plugins(const HostConfig &config) {
    std::map<std::string, std::shared_ptr<LoadedPlugin>> plugins;
    for (const auto &listener : config.listeners) {
        if (plugins.contains(listener.plugin)) continue;
        auto plugin = LoadedPlugin::load(config.plugin_dir / (listener.plugin + ".so"), config.strict_modes);
        if (!plugin) return std::unexpected(plugin.error());
        const auto &descriptor = (*plugin)->descriptor();  // checked: name and version are set
        log_info("loaded plugin " + (*plugin)->file().string() + ": " + descriptor.name + " " + descriptor.version +
                 ", ABI " + std::to_string(descriptor.abi_major) + "." + std::to_string(descriptor.abi_minor));
        plugins.emplace(listener.plugin, std::move(*plugin));
    }
    return plugins;
}

// Binds every listener while the host may still be root (ports below 1024, socket owners).
Result<std::vector<ListenerSocket>> bind_listeners(const HostConfig &config) {
    std::vector<ListenerSocket> sockets;
    for (const auto &listener : config.listeners) {
        auto socket = ListenerSocket::bind(listener.address, listener.options);
        if (!socket) return std::unexpected(socket.error());
        sockets.push_back(std::move(*socket));
    }
    return sockets;
}

// Everything is bound, loaded and created before the first request is served. Plugins are
// loaded only after the switch to `user`, so no plugin code ever runs as root.
Result<std::vector<std::unique_ptr<Server>>> start_servers(const HostConfig &config) {
    auto sockets = bind_listeners(config);
    if (!sockets) return std::unexpected(sockets.error());
    if (config.run_as) {
        if (auto dropped = drop_privileges(*config.run_as); !dropped) return std::unexpected(dropped.error());
        log_info("running as user " + describe_run_as(*config.run_as));
    }
    if (!config.strict_modes)
        log_warning("strict_modes is false: plugin files are loaded without checking their owner and mode");
    auto plugins = load_plugins(config);
    if (!plugins) return std::unexpected(plugins.error());
    std::vector<std::unique_ptr<Server>> servers;
    for (std::size_t index = 0; index < config.listeners.size(); ++index) {
        const auto &listener = config.listeners[index];
        const std::string where = "listener " + listener.address.text() + ": ";
        auto handler = PluginHandler::create(plugins->at(listener.plugin), listener.plugin_config_json);
        if (!handler) return fail(where + handler.error().message);
        if (!(*handler)->supports(listener.address.transport))
            return fail(where + "plugin '" + std::string((*handler)->name()) + "' does not serve " +
                        std::string(transport_name(listener.address.transport)));
        if (auto initialized = (*handler)->process_init(); !initialized)
            return fail(where + initialized.error().message);
        auto server = Server::create(std::move((*sockets)[index]), listener.options,
                                     std::shared_ptr<Handler>(std::move(*handler)));
        if (!server) return std::unexpected(server.error());
        servers.push_back(std::move(*server));
    }
    return servers;
}

// Waits for the signal that stops the host: SIGTERM (graceful, returns true), SIGINT or
// SIGQUIT (fast, returns false). SIGHUP is logged and otherwise ignored.
bool wait_for_stop_signal(const sigset_t &signals, std::chrono::milliseconds drain_timeout) {
    for (;;) {
        siginfo_t info{};
        const int signal_number = ::sigwaitinfo(&signals, &info);
        if (signal_number < 0) continue;  // EINTR
        if (signal_number == SIGHUP) {
            log_warning("SIGHUP: reload needs the supervisor; this host keeps serving unchanged");
            continue;
        }
        if (signal_number == SIGTERM) {
            log_info("SIGTERM: stopping gracefully, in-flight requests have " + std::to_string(drain_timeout.count()) +
                     " ms");
            return true;
        }
        log_info(std::string(strsignal(signal_number)) + ": stopping now");
        return false;
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

}  // namespace

void prepare_process_signals() {
    const sigset_t signals = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // writes use MSG_NOSIGNAL too; this covers a plugin's own
    // An inherited SIG_IGN would make the kernel reap request children behind our back.
    ::signal(SIGCHLD, SIG_DFL);
}

int run_host(const HostConfig &config) {
    set_log_threshold(config.log_level);
    auto started = start_servers(config);
    if (!started) {
        log_error(started.error().message + "; not started");
        return exit_startup_failure;
    }
    auto &servers = *started;

    std::atomic<int> failures{0};
    std::atomic<std::size_t> loops_running{0};
    std::vector<std::thread> loops;
    const sigset_t signals = stop_signals();
    bool graceful = true;
    try {
        for (auto &server : servers) {
            log_info("listening on " + server->listener().bound_text() + " (plugin " +
                     std::string(server->handler().name()) + ", mode " +
                     std::string(mode_name(server->options().mode)) + ")");
            loops_running.fetch_add(1);
            loops.emplace_back([&, serving = server.get()] {
                if (auto served = serving->serve_forever(); !served) {
                    log_error(served.error().message);
                    failures.fetch_add(1);
                    ::kill(::getpid(), SIGINT);  // one broken listener stops the host
                }
                loops_running.fetch_sub(1);
            });
        }
        log_info("ready: " + std::to_string(servers.size()) + " listener(s)");
        graceful = wait_for_stop_signal(signals, config.drain_timeout);
    } catch (const std::system_error &error) {  // a loop thread could not start
        loops_running.fetch_sub(1);
        log_error(std::string("cannot start a listener thread: ") + error.what());
        failures.fetch_add(1);
        graceful = false;
    }

    const auto deadline = Clock::now() + (graceful ? config.drain_timeout : std::chrono::milliseconds(0));
    const auto next_check = [&] { return std::min(deadline, Clock::now() + std::chrono::milliseconds(50)); };
    bool fast = !graceful;
    for (auto &server : servers) {
        server->shutdown();
        // Without block_on_close (or on a fast stop) in-flight requests are not waited for.
        if (fast || !server->options().block_on_close) server->cancel_requests();
    }
    // A sync listener's loop runs its request itself: wait for the loops, then for the
    // threading and forking modes' requests, each until the deadline or a fast-stop signal.
    while (!fast && loops_running.load() > 0 && Clock::now() < deadline) fast = fast_stop_requested(signals, next_check());
    if (loops_running.load() > 0) {
        if (!fast) log_warning("requests still in flight at the stop deadline; cancelling them");
        for (auto &server : servers) server->cancel_requests();
    }
    for (auto &loop : loops) loop.join();
    while (!fast && Clock::now() < deadline) {
        bool idle = true;
        for (auto &server : servers) idle = server->wait_idle(next_check()) && idle;
        if (idle) break;
        fast = fast_stop_requested(signals, Clock::now());
    }
    for (auto &server : servers) server->close(fast ? Clock::now() : deadline);
    servers.clear();  // closes listeners, removes the Unix socket files this host created
    log_info("stopped");
    return failures.load() == 0 ? exit_ok : exit_runtime_failure;
}

}  // namespace sockhost
