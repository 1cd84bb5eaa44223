#include <sockhost/host/shared/effective_config.hpp>

#include <sockhost/host/shared/plugin_directory.hpp>
#include <sockhost/host/shared/tls_context.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sockhost {

namespace {

Result<std::string> read_file(const std::filesystem::path &file, const std::string &what) {
    std::ifstream input(file);
    if (!input) return fail_errno(what + " " + file.string() + ": cannot open");
    std::ostringstream text;
    text << input.rdbuf();
    return text.str();
}

// A certificate, key, CA bundle or CRL: PEM text, far below this.
constexpr std::uintmax_t kMaxTlsFileSize = 4 * 1024 * 1024;

// Reads each file a `tls` object names into the snapshot (once, however many listeners
// name it) and into the config, then builds each listener's context: a missing file, a
// wrong key or an expired certificate fails here, before any worker starts.
Result<void> read_tls_files(HostConfig &config, ConfigSnapshot &snapshot) {
    for (auto &listener : config.listeners) {
        if (!listener.options.tls) continue;
        for (TlsFile *file : listener.options.tls->files()) {
            auto known = snapshot.tls_files.find(file->path);
            if (known == snapshot.tls_files.end()) {
                const std::string what = "listener " + listener.address.text() + ": TLS file";
                std::error_code error;
                const auto size = std::filesystem::file_size(file->path, error);
                if (error) return fail(what + " " + file->path + ": " + error.message());
                if (size > kMaxTlsFileSize)
                    return fail(what + " " + file->path + ": " + std::to_string(size) + " bytes; a PEM file is far smaller");
                auto text = read_file(file->path, what);
                if (!text) return std::unexpected(text.error());
                known = snapshot.tls_files.emplace(file->path, std::move(*text)).first;
            }
            file->pem = known->second;
        }
        auto context = TlsContext::create(*listener.options.tls, "listener " + listener.address.text(), std::nullopt);
        if (!context) return std::unexpected(context.error());
    }
    return {};
}

}  // namespace

std::string ConfigSnapshot::to_json() const {
    nlohmann::json document = {{"config_file", config_file},
                               {"base_dir", base_dir},
                               {"config_text", config_text},
                               {"plugins", plugins},
                               {"sidecars", nlohmann::json::array()}};
    for (const auto &sidecar : sidecars)
        document["sidecars"].push_back({{"plugin", sidecar.plugin}, {"file", sidecar.file}, {"text", sidecar.text}});
    document["plugin_files"] = nlohmann::json::array();
    for (const auto &file : plugin_files)
        document["plugin_files"].push_back({{"name", file.name}, {"device", file.device}, {"inode", file.inode},
                                            {"size", file.size}, {"modified_ns", file.modified_ns}});
    document["tls_files"] = tls_files;
    document["tls_ticket_secret"] = tls_ticket_secret;
    return document.dump();
}

Result<ConfigSnapshot> ConfigSnapshot::from_json(std::string_view text) {
    try {
        const auto document = nlohmann::json::parse(text);
        ConfigSnapshot snapshot;
        snapshot.config_file = document.at("config_file").get<std::string>();
        snapshot.base_dir = document.at("base_dir").get<std::string>();
        snapshot.config_text = document.at("config_text").get<std::string>();
        snapshot.plugins = document.at("plugins").get<std::vector<std::string>>();
        for (const auto &sidecar : document.at("sidecars"))
            snapshot.sidecars.push_back({sidecar.at("plugin").get<std::string>(), sidecar.at("file").get<std::string>(),
                                         sidecar.at("text").get<std::string>()});
        for (const auto &file : document.at("plugin_files"))
            snapshot.plugin_files.push_back({file.at("name").get<std::string>(), file.at("device").get<std::uint64_t>(),
                                             file.at("inode").get<std::uint64_t>(), file.at("size").get<std::int64_t>(),
                                             file.at("modified_ns").get<std::int64_t>()});
        snapshot.tls_files = document.at("tls_files").get<std::map<std::string, std::string>>();
        snapshot.tls_ticket_secret = document.at("tls_ticket_secret").get<std::string>();
        return snapshot;
    } catch (const nlohmann::json::exception &error) {
        return fail(std::string("configuration from the supervisor is unreadable: ") + error.what());
    }
}

Result<EffectiveConfig> read_effective_config(const std::filesystem::path &config_file) {
    EffectiveConfig effective;
    ConfigSnapshot &snapshot = effective.snapshot;
    auto text = read_file(config_file, "config");
    if (!text) return std::unexpected(text.error());
    snapshot.config_file = config_file.string();
    snapshot.base_dir = std::filesystem::absolute(config_file).parent_path().string();
    snapshot.config_text = std::move(*text);
    // The main config alone first: it names the plugin directory.
    auto main_config = parse_config(snapshot.config_text, snapshot.base_dir, snapshot.config_file);
    if (!main_config) return std::unexpected(main_config.error());
    auto directory = scan_plugin_directory(main_config->plugin_dir);
    if (!directory) return fail("config " + snapshot.config_file + ": " + directory.error().message);
    effective.notes = std::move(directory->notes);
    for (const auto &plugin : directory->plugins) {
        snapshot.plugins.push_back(plugin.name);
        if (!plugin.sidecar) continue;
        auto sidecar_text = read_file(*plugin.sidecar, "sidecar");
        if (!sidecar_text) return std::unexpected(sidecar_text.error());
        snapshot.sidecars.push_back({plugin.name, plugin.sidecar->string(), std::move(*sidecar_text)});
    }
    auto composed = add_sidecar_listeners(std::move(*main_config), snapshot);
    if (!composed) return std::unexpected(composed.error());
    if (auto bindable = check_listeners_bindable(composed->listeners); !bindable)
        return fail("config " + snapshot.config_file + ": " + bindable.error().message);
    for (const auto &listener : composed->listeners) {
        if (find_identity(snapshot.plugin_files, listener.plugin) != nullptr) continue;
        auto identity = identify_plugin_file(listener.plugin, composed->plugin_dir / (listener.plugin + ".so"));
        if (!identity) return fail("config " + snapshot.config_file + ": " + identity.error().message);
        snapshot.plugin_files.push_back(std::move(*identity));
    }
    if (auto tls = read_tls_files(*composed, snapshot); !tls)
        return fail("config " + snapshot.config_file + ": " + tls.error().message);
    effective.config = std::move(*composed);
    return effective;
}

Result<HostConfig> compose_config(const ConfigSnapshot &snapshot) {
    auto config = parse_config(snapshot.config_text, snapshot.base_dir, snapshot.config_file);
    if (!config) return std::unexpected(config.error());
    config->plugin_files = snapshot.plugin_files;
    config->tls_ticket_secret = snapshot.tls_ticket_secret;
    auto composed = add_sidecar_listeners(std::move(*config), snapshot);
    if (!composed) return composed;
    for (auto &listener : composed->listeners) {
        if (!listener.options.tls) continue;
        for (TlsFile *file : listener.options.tls->files()) {
            const auto known = snapshot.tls_files.find(file->path);
            if (known == snapshot.tls_files.end())
                return fail("listener " + listener.address.text() + ": TLS file " + file->path +
                            " is not in the supervisor's snapshot");
            file->pem = known->second;
        }
    }
    return composed;
}

Result<HostConfig> add_sidecar_listeners(HostConfig config, const ConfigSnapshot &snapshot) {
    // Where each listener was declared, for messages.
    std::vector<std::string> origins;
    for (std::size_t index = 0; index < config.listeners.size(); ++index)
        origins.push_back("config " + snapshot.config_file + ": listeners[" + std::to_string(index) + "]");
    for (const auto &sidecar : snapshot.sidecars) {
        // Relative paths in a sidecar are relative to its own directory, as in the config.
        auto listeners = parse_sidecar(sidecar.text, std::filesystem::path(sidecar.file).parent_path(), sidecar.file,
                                       sidecar.plugin);
        if (!listeners) return std::unexpected(listeners.error());
        for (std::size_t index = 0; index < listeners->size(); ++index) {
            origins.push_back("sidecar " + sidecar.file + ": listeners[" + std::to_string(index) + "]");
            config.listeners.push_back(std::move((*listeners)[index]));
        }
    }
    if (config.listeners.empty())
        return fail("config " + snapshot.config_file +
                    ": listeners: at least one listener is needed (in the config, or in a sidecar NAME.json beside "
                    "NAME.so in plugin_dir " + config.plugin_dir.string() + ")");
    if (auto distinct = check_listeners_distinct(config.listeners, [&](std::size_t index) { return origins[index]; });
        !distinct)
        return std::unexpected(distinct.error());
    for (std::size_t index = 0; index < config.listeners.size(); ++index) {
        const auto &plugin = config.listeners[index].plugin;
        if (std::find(snapshot.plugins.begin(), snapshot.plugins.end(), plugin) == snapshot.plugins.end())
            return fail(origins[index] + ": listener " + config.listeners[index].address.text() + ": plugin file " +
                        (config.plugin_dir / (plugin + ".so")).string() + ": file not found");
    }
    return config;
}

}  // namespace sockhost
