// The plugins of one configuration, loaded, and each listener's instance of its plugin:
// what a worker does before it serves, and what `sockhost --check` does in its place.
#pragma once

#include <sockhost/host/shared/config.hpp>
#include <sockhost/host/worker/plugin/plugin_loader.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sockhost {

using LoadedPlugins = std::map<std::string, std::shared_ptr<LoadedPlugin>>;

// The plugins some listener uses, each once: an unused NAME.so in plugin_dir runs no code
// in a worker.
std::vector<std::string> plugins_in_use(const HostConfig &config);

// Loads NAME.so from plugin_dir for each of `names`, with the config's strict_modes. A
// file with an identity in the config's plugin_files must still be that file, before and
// after its load (a worker loads what its generation's configuration named, or refuses).
Result<LoadedPlugins> load_plugins(const HostConfig &config, const std::vector<std::string> &names);

// Where a worker creates an instance (instance_info, ABI 1.4): zeros and the configured
// address outside a worker.
struct WorkerPlace {
    std::uint64_t generation = 0;
    std::uint32_t index = 0;     // 1-based within its generation
    std::string bound_address;  // the listener's socket as bound; empty: its configured address
};

// The listener's instance of its plugin, created with the listener's `config` and checked
// to serve its transport, its listener index (in the whole configuration) set. Errors
// name the listener.
Result<std::unique_ptr<PluginHandler>> create_listener_handler(const LoadedPlugins &plugins,
                                                               const ListenerConfig &listener, int listener_index,
                                                               WorkerPlace worker = {});

}  // namespace sockhost
