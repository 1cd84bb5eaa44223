#include <sockhost/host/shared/config.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sockhost {

std::string_view mode_name(Mode mode) {
    switch (mode) {
    case Mode::sync: return "sync";
    case Mode::threading: return "threading";
    case Mode::forking: return "forking";
    case Mode::event: return "event";
    }
    return "?";
}

namespace {

using nlohmann::json;

// Reads the members of one JSON object, each error naming the key's full path
// ("listeners[0].timeout"). Keys not read by the end are reported as unknown.
class ObjectReader {
public:
    ObjectReader(const json &object, std::string path) : object_(object), path_(std::move(path)) {}

    std::string key_path(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }

    const json *find(std::string_view key) {
        known_.insert(std::string(key));
        const auto found = object_.find(key);
        return found == object_.end() ? nullptr : &*found;
    }

    Result<void> boolean(std::string_view key, bool &out) {
        const json *value = find(key);
        if (value == nullptr) return {};
        if (!value->is_boolean()) return type_error(key, "true or false", *value);
        out = value->get<bool>();
        return {};
    }

    Result<void> integer(std::string_view key, long long minimum, long long maximum, long long &out) {
        const json *value = find(key);
        if (value == nullptr) return {};
        if (!value->is_number_integer()) return type_error(key, "an integer", *value);
        const auto number = value->get<long long>();
        if (number < minimum || number > maximum)
            return fail(key_path(key) + ": " + std::to_string(number) + " is out of range " +
                        std::to_string(minimum) + ".." + std::to_string(maximum));
        out = number;
        return {};
    }

    // Seconds as a number (fractions allowed), stored as milliseconds.
    Result<void> seconds(std::string_view key, std::chrono::milliseconds &out) {
        const json *value = find(key);
        if (value == nullptr) return {};
        if (!value->is_number()) return type_error(key, "a number of seconds", *value);
        const double number = value->get<double>();
        if (!std::isfinite(number) || number < 0 || number > 86400.0 * 365)
            return fail(key_path(key) + ": " + value->dump() + " is not a number of seconds from 0 to one year");
        out = std::chrono::milliseconds(static_cast<long long>(std::llround(number * 1000)));
        return {};
    }

    Result<void> string(std::string_view key, std::string &out, bool required) {
        const json *value = find(key);
        if (value == nullptr) {
            if (required) return fail(key_path(key) + ": required key is missing");
            return {};
        }
        if (!value->is_string()) return type_error(key, "a string", *value);
        out = value->get<std::string>();
        return {};
    }

    Result<void> reject_unknown() const {
        for (const auto &[key, value] : object_.items())
            if (!known_.contains(key)) return fail(key_path(key) + ": unknown key");
        return {};
    }

    std::unexpected<Error> type_error(std::string_view key, std::string_view expected, const json &value) const {
        return fail(key_path(key) + ": expected " + std::string(expected) + ", got " + std::string(value.type_name()));
    }

private:
    const json &object_;
    std::string path_;
    std::set<std::string, std::less<>> known_;
};

#define SOCKHOST_TRY(expression)                         \
    do {                                                 \
        if (auto result_ = (expression); !result_)       \
            return std::unexpected(result_.error());     \
    } while (false)

Result<std::vector<Cidr>> read_cidrs(ObjectReader &reader, std::string_view key) {
    std::vector<Cidr> cidrs;
    const json *value = reader.find(key);
    if (value == nullptr) return cidrs;
    if (!value->is_array()) return reader.type_error(key, "an array of addresses", *value);
    for (std::size_t index = 0; index < value->size(); ++index) {
        const json &item = (*value)[index];
        const std::string item_path = reader.key_path(key) + "[" + std::to_string(index) + "]";
        if (!item.is_string()) return fail(item_path + ": expected a string, got " + std::string(item.type_name()));
        auto cidr = parse_cidr(item.get<std::string>());
        if (!cidr) return fail(item_path + ": " + cidr.error().message);
        cidrs.push_back(*cidr);
    }
    return cidrs;
}

Result<Mode> parse_mode(const std::string &text, const std::string &path) {
    if (text == "sync") return Mode::sync;
    if (text == "threading") return Mode::threading;
    if (text == "forking") return Mode::forking;
    if (text == "event") return Mode::event;
    return fail(path + ": unknown mode '" + text + "' (use sync, threading, forking or event)");
}

// A mode as a string of octal digits ("0660"), at most 0777: the set-id and sticky bits
// mean nothing on a socket.
Result<mode_t> parse_socket_mode(const std::string &text, const std::string &path) {
    if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos)
        return fail(path + ": '" + text + "' is not an octal mode such as \"0660\"");
    const unsigned long mode = std::stoul(text, nullptr, 8);
    if (mode > 0777) return fail(path + ": '" + text + "' is above 0777; only permission bits apply to a socket");
    return static_cast<mode_t>(mode);
}

// A user or group given as a name or a numeric id: a JSON string or a non-negative integer.
Result<std::optional<std::string>> read_id(ObjectReader &reader, std::string_view key) {
    const json *value = reader.find(key);
    if (value == nullptr) return std::optional<std::string>();
    if (value->is_number_unsigned()) return std::optional<std::string>(std::to_string(value->get<unsigned long long>()));
    if (!value->is_string()) return reader.type_error(key, "a name or a numeric id", *value);
    return std::optional<std::string>(value->get<std::string>());
}

// `implied_plugin` is set for a sidecar's listeners: `plugin` may then be left out.
Result<ListenerConfig> parse_listener(const json &object, const std::string &path,
                                      const std::filesystem::path &base_dir, const std::string &implied_plugin = {}) {
    if (!object.is_object()) return fail(path + ": expected an object, got " + std::string(object.type_name()));
    ObjectReader reader(object, path);
    ListenerConfig listener;
    ServerOptions &options = listener.options;

    std::string listen_text;
    SOCKHOST_TRY(reader.string("listen", listen_text, true));
    auto address = parse_listen_address(listen_text);
    if (!address) return fail(reader.key_path("listen") + ": " + address.error().message);
    listener.address = *address;
    if (!is_inet(listener.address.transport))
        listener.address.path = (base_dir / listener.address.path).lexically_normal().string();

    SOCKHOST_TRY(reader.string("name", listener.name, false));
    if (object.contains("name") &&
        (listener.name.empty() || listener.name.size() > 255 || listener.name.find(':') != std::string::npos))
        return fail(reader.key_path("name") + ": '" + listener.name +
                    "' must be 1 to 255 characters without ':' (systemd's LISTEN_FDNAMES rules)");

    listener.plugin = implied_plugin;
    SOCKHOST_TRY(reader.string("plugin", listener.plugin, implied_plugin.empty()));
    if (!implied_plugin.empty() && listener.plugin != implied_plugin)
        return fail(reader.key_path("plugin") + ": '" + listener.plugin + "' in the sidecar of plugin '" +
                    implied_plugin + "': a sidecar declares only its own plugin's listeners");
    if (listener.plugin.empty() || listener.plugin.find('/') != std::string::npos || listener.plugin.ends_with(".so"))
        return fail(reader.key_path("plugin") + ": '" + listener.plugin +
                    "' must be a plugin name: the file name in plugin_dir without '.so'");

    std::string mode_text = "sync";
    SOCKHOST_TRY(reader.string("mode", mode_text, false));
    auto mode = parse_mode(mode_text, reader.key_path("mode"));
    if (!mode) return std::unexpected(mode.error());
    options.mode = *mode;

    listener.plugin_config_json = "{}";
    if (const json *plugin_config = reader.find("config")) listener.plugin_config_json = plugin_config->dump();

    long long number = options.request_queue_size;
    SOCKHOST_TRY(reader.integer("request_queue_size", 1, 65535, number));
    options.request_queue_size = static_cast<int>(number);
    SOCKHOST_TRY(reader.boolean("reuse_address", options.reuse_address));
    SOCKHOST_TRY(reader.boolean("reuse_port", options.reuse_port));
    number = static_cast<long long>(options.max_packet_size);
    SOCKHOST_TRY(reader.integer("max_packet_size", 1, 65535, number));
    options.max_packet_size = static_cast<std::size_t>(number);
    SOCKHOST_TRY(reader.seconds("timeout", options.timeout));
    SOCKHOST_TRY(reader.boolean("tcp_nodelay", options.tcp_nodelay));
    number = options.max_children;
    SOCKHOST_TRY(reader.integer("max_children", 1, 100000, number));
    options.max_children = static_cast<int>(number);
    number = options.max_threads;
    SOCKHOST_TRY(reader.integer("max_threads", 1, 100000, number));
    options.max_threads = static_cast<int>(number);
    number = options.max_connections;
    SOCKHOST_TRY(reader.integer("max_connections", 1, 10000000, number));
    options.max_connections = static_cast<int>(number);
    number = static_cast<long long>(options.fiber_stack_size);
    SOCKHOST_TRY(reader.integer("fiber_stack_size", static_cast<long long>(kMinFiberStackSize),
                                static_cast<long long>(kMaxFiberStackSize), number));
    options.fiber_stack_size = static_cast<std::size_t>(number);
    SOCKHOST_TRY(reader.boolean("block_on_close", options.block_on_close));

    auto allow = read_cidrs(reader, "allow");
    if (!allow) return std::unexpected(allow.error());
    auto deny = read_cidrs(reader, "deny");
    if (!deny) return std::unexpected(deny.error());
    options.access = AccessList{std::move(*allow), std::move(*deny)};

    // Read here, applied to Unix listeners only (refused on others below).
    const bool has_socket_file = !is_inet(listener.address.transport);
    std::string socket_mode;
    SOCKHOST_TRY(reader.string("socket_mode", socket_mode, false));
    if (object.contains("socket_mode") && has_socket_file) {
        auto permissions = parse_socket_mode(socket_mode, reader.key_path("socket_mode"));
        if (!permissions) return std::unexpected(permissions.error());
        options.socket_mode = *permissions;
    }
    std::string socket_owner;
    SOCKHOST_TRY(reader.string("socket_owner", socket_owner, false));
    if (object.contains("socket_owner") && has_socket_file) {
        auto owner = resolve_socket_owner(socket_owner);
        if (!owner) return fail(reader.key_path("socket_owner") + ": " + owner.error().message);
        options.socket_owner = *owner;
    }
    SOCKHOST_TRY(reader.reject_unknown());

    // An option that cannot apply to this listener is an error, never silently ignored.
    const auto transport = listener.address.transport;
    const auto present = [&](std::string_view key) { return object.contains(key); };
    if (!is_inet(transport) && present("reuse_address"))
        return fail(reader.key_path("reuse_address") + ": only tcp and udp listeners reuse an address");
    if (!is_inet(transport) && present("reuse_port"))
        return fail(reader.key_path("reuse_port") + ": only tcp and udp listeners can reuse a port");
    if (!is_inet(transport) && (present("allow") || present("deny")))
        return fail(path + ": allow/deny lists apply to tcp and udp listeners only, not " + listener.address.text());
    if (is_inet(transport) && present("socket_mode"))
        return fail(reader.key_path("socket_mode") + ": only unix and unix-dgram listeners have a socket file");
    if (is_inet(transport) && present("socket_owner"))
        return fail(reader.key_path("socket_owner") + ": only unix and unix-dgram listeners have a socket file");
    if (transport != Transport::tcp && present("tcp_nodelay"))
        return fail(reader.key_path("tcp_nodelay") + ": only tcp listeners have TCP_NODELAY");
    if (is_datagram(transport) && present("request_queue_size"))
        return fail(reader.key_path("request_queue_size") + ": datagram listeners have no connection queue");
    if (!is_datagram(transport) && present("max_packet_size"))
        return fail(reader.key_path("max_packet_size") + ": only udp and unix-dgram listeners receive packets");
    if (options.mode != Mode::forking && present("max_children"))
        return fail(reader.key_path("max_children") + ": only applies to mode forking");
    if (options.mode != Mode::threading && present("max_threads"))
        return fail(reader.key_path("max_threads") + ": only applies to mode threading");
    if (options.mode != Mode::event && present("max_connections"))
        return fail(reader.key_path("max_connections") + ": only applies to mode event");
    if (options.mode != Mode::event && present("fiber_stack_size"))
        return fail(reader.key_path("fiber_stack_size") + ": only applies to mode event");
    // sun_path's limit applies to the path as resolved against the config's directory.
    if (!is_inet(transport) && listener.address.path.size() >= kUnixPathCapacity)
        return fail(reader.key_path("listen") + ": socket path '" + listener.address.path + "' is longer than " +
                    std::to_string(kUnixPathCapacity - 1) + " bytes");
    return listener;
}

Result<LogLevel> parse_log_level(const std::string &text) {
    if (text == "debug") return LogLevel::debug;
    if (text == "info") return LogLevel::info;
    if (text == "warning") return LogLevel::warning;
    if (text == "error") return LogLevel::error;
    return fail("log_level: unknown level '" + text + "' (use debug, info, warning or error)");
}

}  // namespace

Result<HostConfig> parse_config(std::string_view json_text, const std::filesystem::path &base_dir,
                                std::string_view source) {
    const auto in_source = [&](const Error &error) { return fail("config " + std::string(source) + ": " + error.message); };
    json document;
    try {
        document = json::parse(json_text);
    } catch (const json::parse_error &error) {
        return in_source(Error{std::string("not valid JSON: ") + error.what()});
    }
    if (!document.is_object()) return in_source(Error{"expected a JSON object at the top"});

    const auto parse = [&]() -> Result<HostConfig> {
        ObjectReader reader(document, "");
        HostConfig config;
        std::string plugin_dir;
        SOCKHOST_TRY(reader.string("plugin_dir", plugin_dir, true));
        config.plugin_dir = (base_dir / plugin_dir).lexically_normal();
        SOCKHOST_TRY(reader.seconds("drain_timeout", config.drain_timeout));
        SOCKHOST_TRY(reader.seconds("ready_timeout", config.ready_timeout));
        if (const json *workers = reader.find("workers")) {
            if (workers->is_string() && workers->get<std::string>() == "auto") {
                config.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
            } else {
                long long count = 1;
                SOCKHOST_TRY(reader.integer("workers", 1, 1024, count));
                config.workers = static_cast<int>(count);
            }
        }
        std::string path_text;
        SOCKHOST_TRY(reader.string("pid_file", path_text, false));
        if (!path_text.empty()) config.pid_file = (base_dir / path_text).lexically_normal();
        path_text.clear();
        SOCKHOST_TRY(reader.string("control_socket", path_text, false));
        if (!path_text.empty()) {
            config.control_socket = (base_dir / path_text).lexically_normal();
            if (config.control_socket.string().size() >= kUnixPathCapacity)
                return fail("control_socket: path '" + config.control_socket.string() + "' is longer than " +
                            std::to_string(kUnixPathCapacity - 1) + " bytes");
        }
        std::string level = "info";
        SOCKHOST_TRY(reader.string("log_level", level, false));
        auto log_level = parse_log_level(level);
        if (!log_level) return std::unexpected(log_level.error());
        config.log_level = *log_level;
        SOCKHOST_TRY(reader.boolean("strict_modes", config.strict_modes));
        auto user = read_id(reader, "user");
        if (!user) return std::unexpected(user.error());
        auto group = read_id(reader, "group");
        if (!group) return std::unexpected(group.error());
        if (*group && !*user) return fail("group: needs user too (the host only switches groups when it switches user)");
        if (*user) {
            auto run_as = resolve_run_as(**user, *group ? std::optional<std::string_view>(**group) : std::nullopt);
            if (!run_as) return std::unexpected(run_as.error());
            config.run_as = std::move(*run_as);
        }

        // Optional: sidecars in plugin_dir may declare every listener.
        if (const json *listeners = reader.find("listeners")) {
            if (!listeners->is_array()) return reader.type_error("listeners", "an array", *listeners);
            for (std::size_t index = 0; index < listeners->size(); ++index) {
                auto listener = parse_listener((*listeners)[index], "listeners[" + std::to_string(index) + "]", base_dir);
                if (!listener) return std::unexpected(listener.error());
                config.listeners.push_back(std::move(*listener));
            }
        }
        SOCKHOST_TRY(reader.reject_unknown());
        SOCKHOST_TRY(check_listeners_distinct(config.listeners, [](std::size_t index) {
            return "listeners[" + std::to_string(index) + "]";
        }));
        return config;
    };
    auto config = parse();
    if (!config) return in_source(config.error());
    return config;
}

Result<void> check_listeners_distinct(const std::vector<ListenerConfig> &listeners,
                                      const std::function<std::string(std::size_t)> &describe) {
    // Port 0 asks for a free port each time, so it can appear more than once.
    const auto fixed = [](const ListenerConfig &listener) {
        return !is_inet(listener.address.transport) || listener.address.port != 0;
    };
    for (std::size_t first = 0; first < listeners.size(); ++first)
        for (std::size_t second = first + 1; second < listeners.size(); ++second) {
            if (fixed(listeners[first]) && listeners[first].address.text() == listeners[second].address.text())
                return fail(describe(second) + ".listen: '" + listeners[second].address.text() +
                            "' is already used by " + describe(first));
            if (!listeners[first].name.empty() && listeners[first].name == listeners[second].name)
                return fail(describe(second) + ".name: '" + listeners[second].name + "' is already used by " +
                            describe(first));
        }
    return {};
}

Result<std::vector<ListenerConfig>> parse_sidecar(std::string_view json_text, const std::filesystem::path &base_dir,
                                                  std::string_view source, const std::string &plugin_name) {
    const auto in_source = [&](const std::string &message) { return fail("sidecar " + std::string(source) + ": " + message); };
    json document;
    try {
        document = json::parse(json_text);
    } catch (const json::parse_error &error) {
        return in_source(std::string("not valid JSON: ") + error.what());
    }
    if (!document.is_object()) return in_source("expected a JSON object at the top");
    ObjectReader reader(document, "");
    std::vector<ListenerConfig> result;
    const json *listeners = reader.find("listeners");
    if (listeners == nullptr) return in_source("listeners: required key is missing");
    if (!listeners->is_array()) return in_source(reader.type_error("listeners", "an array", *listeners).error().message);
    for (std::size_t index = 0; index < listeners->size(); ++index) {
        auto listener = parse_listener((*listeners)[index], "listeners[" + std::to_string(index) + "]", base_dir, plugin_name);
        if (!listener) return in_source(listener.error().message);
        result.push_back(std::move(*listener));
    }
    if (auto known = reader.reject_unknown(); !known) return in_source(known.error().message);
    return result;
}

Result<HostConfig> load_config(const std::filesystem::path &file) {
    std::ifstream input(file);
    if (!input) return fail_errno("config " + file.string() + ": cannot open");
    std::ostringstream text;
    text << input.rdbuf();
    const auto absolute = std::filesystem::absolute(file);
    return parse_config(text.str(), absolute.parent_path(), file.string());
}

}  // namespace sockhost
