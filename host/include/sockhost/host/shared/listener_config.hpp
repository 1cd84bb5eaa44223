// One listener of the configuration (in the config's `listeners`, or a sidecar's): where
// it listens, which plugin serves it, and its options. Each option is declared once, in
// listener_config.cpp's table, with the transports and modes it applies to.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/server_options.hpp>

#include <string>

namespace sockhost {

struct ListenerConfig {
    ListenAddress address;
    std::string name;                 // optional; matched against systemd's LISTEN_FDNAMES
    std::string plugin;               // file name in plugin_dir, without ".so"
    // Listeners of one group share worker processes; by default the group is the plugin's
    // name, so a crash, a stuck loop or a leak in one plugin reaches no other's listeners.
    std::string worker_group;
    std::string plugin_config_json;   // the listener's `config`, as JSON text ("{}" if absent)
    BindOptions bind;                 // the supervisor's, when it creates the socket
    ServerOptions options;            // the worker's
};

}  // namespace sockhost
