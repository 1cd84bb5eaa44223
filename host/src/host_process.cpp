#include <sockhost/host/host_process.hpp>

#include <sockhost/host/listener.hpp>
#include <sockhost/host/log.hpp>
#include <sockhost/host/plugin_loader.hpp>
#include <sockhost/host/server.hpp>

#include <signal.h>

#include <condition_variable>
#include <map>
#include <mutex>
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
        auto plugin = LoadedPlugin::load(config.plugin_dir / (listener.plugin + ".so"));
        if (!plugin) return std::unexpected(plugin.error());
        log_info("loaded plugin " + (*plugin)->file().string() + ": " + (*plugin)->name() + " " +
                 ((*plugin)->descriptor().version != nullptr ? (*plugin)->descriptor().version : "") + ", ABI " +
                 std::to_string((*plugin)->descriptor().abi_major) + "." +
                 std::to_string((*plugin)->descriptor().abi_minor));
        plugins.emplace(listener.plugin, std::move(*plugin));
    }
    return plugins;
}

// Everything is loaded, created and bound before the first request is served.
Result<std::vector<std::unique_ptr<Server>>> start_servers(const HostConfig &config) {
    auto plugins = load_plugins(config);
    if (!plugins) return std::unexpected(plugins.error());
    std::vector<std::unique_ptr<Server>> servers;
    for (const auto &listener : config.listeners) {
        const std::string where = "listener " + listener.address.text() + ": ";
        auto handler = PluginHandler::create(plugins->at(listener.plugin), listener.plugin_config_json);
        if (!handler) return fail(where + handler.error().message);
        if (!(*handler)->supports(listener.address.transport))
            return fail(where + "plugin '" + std::string((*handler)->name()) + "' does not serve " +
                        std::string(transport_name(listener.address.transport)));
        if (auto initialized = (*handler)->process_init(); !initialized)
            return fail(where + initialized.error().message);
        auto socket = ListenerSocket::bind(listener.address, listener.options);
        if (!socket) return std::unexpected(socket.error());
        auto server = Server::create(std::move(*socket), listener.options, std::shared_ptr<Handler>(std::move(*handler)));
        if (!server) return std::unexpected(server.error());
        servers.push_back(std::move(*server));
    }
    return servers;
}

}  // namespace

void prepare_process_signals() {
    const sigset_t signals = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // writes use MSG_NOSIGNAL too; this covers a plugin's own
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
    std::vector<std::thread> loops;
    std::mutex loops_mutex;
    std::condition_variable loop_ended;
    std::size_t loops_running = servers.size();
    const sigset_t signals = stop_signals();
    for (auto &server : servers) {
        log_info("listening on " + server->listener().bound_text() + " (plugin " + std::string(server->handler().name()) +
                 ", mode " + std::string(mode_name(server->options().mode)) + ")");
        loops.emplace_back([&, serving = server.get()] {
            if (auto served = serving->serve_forever(); !served) {
                log_error(served.error().message);
                failures.fetch_add(1);
                ::kill(::getpid(), SIGINT);  // one broken listener stops the host
            }
            const std::lock_guard lock(loops_mutex);
            --loops_running;
            loop_ended.notify_all();
        });
    }
    log_info("ready: " + std::to_string(servers.size()) + " listener(s)");

    bool graceful = true;
    for (;;) {
        siginfo_t info{};
        const int signal_number = ::sigwaitinfo(&signals, &info);
        if (signal_number < 0) continue;  // EINTR
        if (signal_number == SIGHUP) {
            log_warning("SIGHUP: reload needs the supervisor; this host keeps serving unchanged");
            continue;
        }
        graceful = signal_number == SIGTERM;
        log_info(std::string(graceful ? "SIGTERM: stopping gracefully, in-flight requests have " +
                                            std::to_string(config.drain_timeout.count()) + " ms"
                                      : std::string(strsignal(signal_number)) + ": stopping now"));
        break;
    }
    const auto deadline = Clock::now() + (graceful ? config.drain_timeout : std::chrono::milliseconds(0));
    for (auto &server : servers) {
        server->shutdown();
        // Without block_on_close (or on a fast stop) in-flight requests are not waited for.
        if (!graceful || !server->options().block_on_close) server->cancel_requests();
    }
    if (graceful) {
        // A sync listener's loop runs its request itself: past the deadline, cancel it.
        std::unique_lock lock(loops_mutex);
        if (!loop_ended.wait_until(lock, deadline, [&] { return loops_running == 0; })) {
            log_warning("requests still in flight at the stop deadline; cancelling them");
            for (auto &server : servers) server->cancel_requests();
        }
    }
    for (auto &loop : loops) loop.join();
    for (auto &server : servers) server->close(deadline);
    servers.clear();  // closes listeners, removes the Unix socket files this host created
    log_info("stopped");
    return failures.load() == 0 ? exit_ok : exit_runtime_failure;
}

}  // namespace sockhost
