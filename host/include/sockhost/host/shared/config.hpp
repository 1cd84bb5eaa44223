// The host's JSON configuration: what to listen on, with which plugin and mode.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/listener_config.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/shared/plugin_file_identity.hpp>
#include <sockhost/host/shared/privileges.hpp>
#include <sockhost/host/shared/server_options.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost {

struct HostConfig {
    std::filesystem::path plugin_dir;
    std::vector<ListenerConfig> listeners;
    // Not a key: the plugin files as the supervisor found them, from its snapshot
    // (compose_config), which a worker's loads must match; empty when read directly.
    std::vector<PluginFileIdentity> plugin_files;
    // Not a key either: the secret TLS session-ticket keys derive from (tls_context.hpp), as
    // hex, from the supervisor's snapshot; empty: no tickets.
    std::string tls_ticket_secret;
    std::chrono::milliseconds drain_timeout{10000};  // SIGTERM: in-flight requests get this long
    LogLevel log_level = LogLevel::info;
    int workers = 1;                                 // worker processes per group ("auto": cores)
    // A worker whose resident memory passes this is replaced (a new one started, the old
    // one drained); 0: no limit.
    std::uint64_t worker_memory_limit_mb = 0;
    std::filesystem::path pid_file;                  // empty: none
    std::filesystem::path control_socket;            // empty: none (`sockhost reload` needs it)
    std::chrono::milliseconds ready_timeout{30000};  // a new generation must be READY by then
    // A plugin instance's exported state, carried to the next generation at a reload: at
    // most this big, and exported within this long, or the reload fails.
    std::uint64_t state_handoff_limit_mb = 64;
    std::chrono::milliseconds state_handoff_timeout{10000};
    // `user`/`group`: the host switches to them after binding and before loading plugins.
    std::optional<RunAs> run_as;
    // Refuse plugin files (and directories) that others than root or the host's user could change.
    bool strict_modes = true;
    // Count requests, connections and bytes per listener, and take plugins' metrics
    // (shared/worker_metrics.hpp); off, the workers count nothing.
    bool metrics = true;
    // `admin`: where the supervisor serves /metrics, /healthz and /readyz over HTTP
    // (tcp://HOST:PORT or unix:PATH); unset: no admin endpoint.
    std::optional<ListenAddress> admin;
};

// Reads and validates a config file. Relative paths in it are relative to its directory.
Result<HostConfig> load_config(const std::filesystem::path &file);

// Validates config text; `source` names it in errors, `base_dir` anchors relative paths.
// `listeners` may be empty here: sidecars can declare them (see effective_config.hpp).
Result<HostConfig> parse_config(std::string_view json_text, const std::filesystem::path &base_dir,
                                std::string_view source);

// A plugin's sidecar NAME.json: {"listeners": [...]}, each listener as in the main config
// with `plugin` implied (if present it must be `plugin_name`). Errors name `source`.
Result<std::vector<ListenerConfig>> parse_sidecar(std::string_view json_text, const std::filesystem::path &base_dir,
                                                  std::string_view source, const std::string &plugin_name);

// Refuses two listeners on the same fixed address (port 0 may repeat) and two listeners
// with the same `name`; `describe(index)` names a listener in the message.
// What the supervisor (and --check) checks before binding: every inet listener's host
// resolves, and no two listeners of one transport would share a port on one address, as
// written ("127.0.0.1" and "localhost") or through a wildcard ("0.0.0.0" and "127.0.0.1"),
// where one of the two would silently get every datagram or connection. Port 0 may repeat.
Result<void> check_listeners_bindable(const std::vector<ListenerConfig> &listeners);

Result<void> check_listeners_distinct(const std::vector<ListenerConfig> &listeners,
                                      const std::function<std::string(std::size_t)> &describe);

}  // namespace sockhost
