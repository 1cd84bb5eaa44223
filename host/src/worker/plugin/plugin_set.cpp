#include <sockhost/host/worker/plugin/plugin_set.hpp>

#include <algorithm>

namespace sockhost {

std::vector<std::string> plugins_in_use(const HostConfig &config) {
    std::vector<std::string> names;
    for (const auto &listener : config.listeners)
        if (std::find(names.begin(), names.end(), listener.plugin) == names.end()) names.push_back(listener.plugin);
    return names;
}

Result<LoadedPlugins> load_plugins(const HostConfig &config, const std::vector<std::string> &names) {
    LoadedPlugins plugins;
    for (const auto &name : names) {
        auto plugin = LoadedPlugin::load(config.plugin_dir / (name + ".so"), config.strict_modes);
        if (!plugin) return std::unexpected(plugin.error());
        plugins.emplace(name, std::move(*plugin));
    }
    return plugins;
}

Result<std::unique_ptr<PluginHandler>> create_listener_handler(const LoadedPlugins &plugins,
                                                               const ListenerConfig &listener, int listener_index) {
    const std::string where = "listener " + listener.address.text() + ": ";
    auto handler = PluginHandler::create(plugins.at(listener.plugin), listener.plugin_config_json, listener_index);
    if (!handler) return fail(where + handler.error().message);
    (*handler)->set_listener_index(listener_index);
    if (!(*handler)->supports(listener.address.transport))
        return fail(where + "plugin '" + std::string((*handler)->name()) + "' does not serve " +
                    std::string(transport_name(listener.address.transport)));
    return handler;
}

}  // namespace sockhost
