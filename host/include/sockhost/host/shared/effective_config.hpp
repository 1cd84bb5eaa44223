// The effective configuration: the main config file plus the listeners declared by the
// sidecars in plugin_dir. The supervisor reads the files once into a ConfigSnapshot (their
// bytes) and hands that snapshot to its workers, which compose their config from the very
// same bytes: a file edited between the supervisor's read and a worker's start cannot make
// them disagree about listeners or plugins.
#pragma once

#include <sockhost/host/shared/config.hpp>
#include <sockhost/host/shared/plugin_file_identity.hpp>

#include <map>
#include <string>
#include <vector>

namespace sockhost {

struct ConfigSnapshot {
    struct Sidecar {
        std::string plugin;
        std::string file;
        std::string text;
    };
    std::string config_file;           // as named on the command line (for messages)
    std::string base_dir;              // the config file's directory
    std::string config_text;
    std::vector<std::string> plugins;  // NAME of every NAME.so found in plugin_dir
    std::vector<Sidecar> sidecars;
    // The plugin files its listeners use, as they were when it was read: every worker of
    // the generation loads these very files (plugin_file_identity.hpp).
    std::vector<PluginFileIdentity> plugin_files;
    // Every file a listener's `tls` names (by its resolved path), and what it held: read
    // by the supervisor, which may run as a user its workers are not.
    std::map<std::string, std::string> tls_files;
    std::string tls_ticket_secret;  // hex (tls_context.hpp); set by the supervisor

    std::string to_json() const;
    static Result<ConfigSnapshot> from_json(std::string_view text);
};

struct EffectiveConfig {
    HostConfig config;
    ConfigSnapshot snapshot;
    std::vector<std::string> notes;  // ignored files in plugin_dir
};

// Reads the config file and scans its plugin_dir, then composes the two.
Result<EffectiveConfig> read_effective_config(const std::filesystem::path &config_file);

// Parses the config in `snapshot`, then add_sidecar_listeners, and fills each `tls` file
// with the bytes the snapshot holds: the worker's one parse of what the supervisor read.
Result<HostConfig> compose_config(const ConfigSnapshot &snapshot);

// Parses the sidecars in `snapshot`, appends each one's listeners (`plugin` implied) to
// the already parsed main config, and checks that every listener's plugin file is there.
Result<HostConfig> add_sidecar_listeners(HostConfig config, const ConfigSnapshot &snapshot);

}  // namespace sockhost
