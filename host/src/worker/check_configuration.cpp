// `sockhost --check -c CONFIG`: what a reload would read, validated without serving.
// Plugins are loaded in a throwaway child process: their code (constructors, create) runs,
// and a plugin that crashes takes down only that child. Every NAME.so in plugin_dir is
// loaded, used by a listener or not: a file dropped there is meant to be used, and is
// better found broken now than at the reload that first uses it. process_init is not run
// (it may start work meant for a serving process); nothing is bound.
#include <sockhost/host/host_process.hpp>

#include <sockhost/host/shared/child_process.hpp>
#include <sockhost/host/shared/effective_config.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/plugin/plugin_set.hpp>
#include <sockhost/host/shared/privileges.hpp>

#include <sys/wait.h>
#include <unistd.h>


namespace sockhost {

namespace {

Result<void> load_everything(const HostConfig &config, const ConfigSnapshot &snapshot) {
    // As a worker would: switched to `user` before any plugin code runs, and with the
    // same file checks.
    if (config.run_as) {
        if (auto dropped = drop_privileges(*config.run_as); !dropped) return std::unexpected(dropped.error());
    }
    auto plugins = load_plugins(config, snapshot.plugins);
    if (!plugins) return std::unexpected(plugins.error());
    for (const auto &[name, plugin] : *plugins)
        log_info("check: plugin " + plugin->file().string() + " loads: " + plugin->descriptor().name + " " +
                 plugin->descriptor().version);
    for (const auto &listener : config.listeners) {
        auto handler = create_listener_handler(*plugins, listener);
        if (!handler) return std::unexpected(handler.error());
    }
    return {};
}

}  // namespace

int check_configuration(const std::filesystem::path &config_file) {
    auto effective = read_effective_config(config_file);
    if (!effective) {
        log_error("check failed: " + effective.error().message);
        return exit_startup_failure;
    }
    for (const auto &note : effective->notes) log_info(note);
    const pid_t child = ::fork();
    if (child < 0) {
        log_error(std::string("check failed: fork: ") + std::strerror(errno));
        return exit_startup_failure;
    }
    if (child == 0) {
        auto loaded = load_everything(effective->config, effective->snapshot);
        if (!loaded) log_error("check failed: " + loaded.error().message);
        ::_exit(loaded ? exit_ok : exit_startup_failure);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == exit_ok) {
        log_info("check: config " + config_file.string() + " is valid: " +
                 std::to_string(effective->config.listeners.size()) + " listener(s), " +
                 std::to_string(effective->snapshot.plugins.size()) + " plugin(s) load");
        return exit_ok;
    }
    if (!WIFEXITED(status)) log_error("check failed: loading the plugins " + describe_wait_status(status));
    return exit_startup_failure;
}

}  // namespace sockhost
