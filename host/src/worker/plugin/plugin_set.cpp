#include <sockhost/host/worker/plugin/plugin_set.hpp>

#include <algorithm>

namespace sockhost {

std::vector<std::string> plugins_in_use(const HostConfig &config) {
    std::vector<std::string> names;
    for (const auto &listener : config.listeners)
        if (std::find(names.begin(), names.end(), listener.plugin) == names.end()) names.push_back(listener.plugin);
    return names;
}

namespace {

Result<void> check_unchanged(const std::filesystem::path &file, const PluginFileIdentity *expected) {
    if (expected == nullptr) return {};
    auto now = identify_plugin_file(expected->name, file);
    if (!now) return std::unexpected(now.error());
    if (std::string change = plugin_file_change(*expected, *now); !change.empty())
        return fail("plugin " + file.string() + ": " + change +
                    " since the supervisor read this generation's configuration; this worker does not load it. A "
                    "reload serves the new file (install a plugin by renaming a new file into place, never by "
                    "copying over the one in use)");
    return {};
}

}  // namespace

Result<LoadedPlugins> load_plugins(const HostConfig &config, const std::vector<std::string> &names) {
    LoadedPlugins plugins;
    for (const auto &name : names) {
        const auto file = config.plugin_dir / (name + ".so");
        const PluginFileIdentity *identity = find_identity(config.plugin_files, name);
        if (auto unchanged = check_unchanged(file, identity); !unchanged) return std::unexpected(unchanged.error());
        auto plugin = LoadedPlugin::load(file, config.strict_modes);
        if (!plugin) return std::unexpected(plugin.error());
        // Changed while it was being loaded: what is mapped may be either file.
        if (auto unchanged = check_unchanged(file, identity); !unchanged) return std::unexpected(unchanged.error());
        plugins.emplace(name, std::move(*plugin));
    }
    return plugins;
}

Result<std::unique_ptr<PluginHandler>> create_listener_handler(const LoadedPlugins &plugins,
                                                               const ListenerConfig &listener, int listener_index,
                                                               WorkerPlace worker) {
    const std::string where = "listener " + listener.address.text() + ": ";
    auto handler = PluginHandler::create(plugins.at(listener.plugin), listener.plugin_config_json,
                                         {.listener_index = listener_index,
                                          .transport = listener.address.transport,
                                          .mode = listener.options.mode,
                                          .listener_name = listener.name,
                                          .address = worker.bound_address.empty() ? listener.address.text()
                                                                                  : std::move(worker.bound_address),
                                          .generation = worker.generation,
                                          .worker_index = worker.index});
    if (!handler) return fail(where + handler.error().message);
    (*handler)->set_listener_index(listener_index);
    if (!(*handler)->supports(listener.address.transport))
        return fail(where + "plugin '" + std::string((*handler)->name()) + "' does not serve " +
                    std::string(transport_name(listener.address.transport)));
    return handler;
}

}  // namespace sockhost
