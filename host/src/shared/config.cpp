#include <sockhost/host/shared/config.hpp>

#include "json_object_reader.hpp"
#include "parse_listener.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sockhost {

namespace {

// A user or group given as a name or a numeric id: a JSON string or a non-negative integer.
Result<std::optional<std::string>> read_id(ObjectReader &reader, std::string_view key) {
    const json *value = reader.find(key);
    if (value == nullptr) return std::optional<std::string>();
    if (value->is_number_unsigned()) return std::optional<std::string>(std::to_string(value->get<unsigned long long>()));
    if (!value->is_string()) return reader.type_error(key, "a name or a numeric id", *value);
    SOCKHOST_TRY(reader.refuse_nul(key, value->get_ref<const std::string &>()));
    return std::optional<std::string>(value->get<std::string>());
}

Result<LogLevel> parse_log_level(const std::string &text) {
    if (text == "debug") return LogLevel::debug;
    if (text == "info") return LogLevel::info;
    if (text == "warning") return LogLevel::warning;
    if (text == "error") return LogLevel::error;
    return fail("log_level: unknown level '" + text + "' (use debug, info, warning or error)");
}

// Deeper documents are refused while they are read: writing a plugin's `config` out again
// as text (for the plugin) recurses once per level, and 70,000 levels overflow the stack.
constexpr int kMaxNesting = 64;

// Parses `text`, refusing what the JSON library would accept silently or throw for: a key
// given twice in one object (the library keeps the last), nesting deeper than kMaxNesting,
// and numbers beyond a double's range.
Result<json> parse_json_object(std::string_view text) {
    json document;
    std::string refused;
    std::vector<std::set<std::string>> keys_of_open_objects;
    const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json &parsed) {
        if (!refused.empty()) return false;
        if (depth > kMaxNesting) {
            refused = "nested deeper than " + std::to_string(kMaxNesting) + " levels";
        } else if (event == json::parse_event_t::object_start) {
            keys_of_open_objects.emplace_back();
        } else if (event == json::parse_event_t::object_end && !keys_of_open_objects.empty()) {
            keys_of_open_objects.pop_back();
        } else if (event == json::parse_event_t::key && !keys_of_open_objects.empty() &&
                   !keys_of_open_objects.back().insert(parsed.get<std::string>()).second) {
            refused = "key '" + parsed.get<std::string>() + "' is given twice in one object";
        }
        return refused.empty();  // false discards the value: nothing more is kept
    };
    try {
        document = json::parse(text, check);
    } catch (const json::exception &error) {  // parse_error, and out_of_range for 1e400
        return fail(std::string("not valid JSON: ") + error.what());
    }
    if (!refused.empty()) return fail(refused);
    if (!document.is_object()) return fail("expected a JSON object at the top");
    return document;
}

// The `listeners` array of a config or a sidecar (whose `plugin` is implied).
Result<std::vector<ListenerConfig>> read_listeners(ObjectReader &reader, const std::filesystem::path &base_dir,
                                                   const std::string &implied_plugin) {
    const json *listeners = reader.find("listeners");
    if (!listeners->is_array()) return reader.type_error("listeners", "an array", *listeners);
    std::vector<ListenerConfig> result;
    for (std::size_t index = 0; index < listeners->size(); ++index) {
        auto listener =
            parse_listener((*listeners)[index], "listeners[" + std::to_string(index) + "]", base_dir, implied_plugin);
        if (!listener) return std::unexpected(listener.error());
        result.push_back(std::move(*listener));
    }
    return result;
}

// `admin`: a stream address; a Unix path relative to the config file's directory.
Result<void> read_admin_address(ObjectReader &reader, const std::filesystem::path &base_dir, HostConfig &config) {
    std::string text;
    SOCKHOST_TRY(reader.string("admin", text, false));
    if (text.empty()) return {};
    auto address = parse_listen_address(text);
    if (!address) return fail("admin: " + address.error().message);
    if (is_datagram(address->transport))
        return fail("admin: '" + text + "' is a datagram address; the admin endpoint is HTTP: use tcp:// or unix:");
    if (address->transport == Transport::unix_stream) {
        address->path = (base_dir / address->path).lexically_normal().string();
        if (address->path.size() >= kUnixPathCapacity)
            return fail("admin: path '" + address->path + "' is longer than " + std::to_string(kUnixPathCapacity - 1) +
                        " bytes");
    }
    config.admin = std::move(*address);
    return {};
}

// Everything at the top but the listeners and the user to run as.
Result<void> read_host_settings(ObjectReader &reader, const std::filesystem::path &base_dir, HostConfig &config) {
    std::string plugin_dir;
    SOCKHOST_TRY(reader.string("plugin_dir", plugin_dir, true));
    config.plugin_dir = (base_dir / plugin_dir).lexically_normal();
    SOCKHOST_TRY(reader.seconds("drain_timeout", config.drain_timeout));
    SOCKHOST_TRY(reader.seconds("ready_timeout", config.ready_timeout));
    if (config.ready_timeout.count() == 0)
        return fail("ready_timeout: 0 leaves a new generation no time to start; give it seconds, as 30");
    if (const json *workers = reader.find("workers")) {
        if (workers->is_string() && workers->get<std::string>() == "auto") {
            config.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        } else {
            long long count = 1;
            SOCKHOST_TRY(reader.integer("workers", 1, 1024, count));
            config.workers = static_cast<int>(count);
        }
    }
    auto memory_limit = static_cast<long long>(config.worker_memory_limit_mb);
    SOCKHOST_TRY(reader.integer("worker_memory_limit", 0, 1LL << 30, memory_limit));
    config.worker_memory_limit_mb = static_cast<std::uint64_t>(memory_limit);
    auto state_limit = static_cast<long long>(config.state_handoff_limit_mb);
    SOCKHOST_TRY(reader.integer("state_handoff_limit", 0, 1LL << 20, state_limit));
    config.state_handoff_limit_mb = static_cast<std::uint64_t>(state_limit);
    SOCKHOST_TRY(reader.seconds("state_handoff_timeout", config.state_handoff_timeout));
    if (config.state_handoff_timeout.count() == 0)
        return fail("state_handoff_timeout: 0 leaves no time to export a plugin's state; give it seconds, as 10");
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
    SOCKHOST_TRY(reader.boolean("metrics", config.metrics));
    SOCKHOST_TRY(read_admin_address(reader, base_dir, config));
    return reader.boolean("strict_modes", config.strict_modes);
}

// `user` and `group`: whom the workers run as.
Result<void> read_run_as(ObjectReader &reader, HostConfig &config) {
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
    return {};
}

}  // namespace

Result<HostConfig> parse_config(std::string_view json_text, const std::filesystem::path &base_dir,
                                std::string_view source) {
    const auto in_source = [&](const Error &error) { return fail("config " + std::string(source) + ": " + error.message); };
    auto document = parse_json_object(json_text);
    if (!document) return in_source(document.error());
    ObjectReader reader(*document, "");
    HostConfig config;
    if (auto read = read_host_settings(reader, base_dir, config); !read) return in_source(read.error());
    if (auto read = read_run_as(reader, config); !read) return in_source(read.error());
    // Optional: sidecars in plugin_dir may declare every listener.
    if (reader.find("listeners") != nullptr) {
        auto listeners = read_listeners(reader, base_dir, {});
        if (!listeners) return in_source(listeners.error());
        config.listeners = std::move(*listeners);
    }
    if (auto known = reader.reject_unknown(); !known) return in_source(known.error());
    if (auto distinct = check_listeners_distinct(
            config.listeners, [](std::size_t index) { return "listeners[" + std::to_string(index) + "]"; });
        !distinct)
        return in_source(distinct.error());
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

Result<void> check_listeners_bindable(const std::vector<ListenerConfig> &listeners) {
    struct Resolved {
        const ListenerConfig *listener;
        SocketAddress address;
    };
    std::vector<Resolved> bound;
    for (const auto &listener : listeners) {
        if (!is_inet(listener.address.transport)) continue;
        auto address = resolve_listen_address(listener.address);
        if (!address) return std::unexpected(address.error());
        if (listener.address.port == 0) continue;
        for (const auto &earlier : bound) {
            if (earlier.listener->address.transport != listener.address.transport ||
                !same_port_overlapping(earlier.address, *address))
                continue;
            return fail("listener " + listener.address.text() + ": binds " + format_address(*address) +
                        ", which listener " + earlier.listener->address.text() + " (" +
                        format_address(earlier.address) + ") already covers");
        }
        bound.push_back({&listener, *address});
    }
    return {};
}

Result<std::vector<ListenerConfig>> parse_sidecar(std::string_view json_text, const std::filesystem::path &base_dir,
                                                  std::string_view source, const std::string &plugin_name) {
    const auto in_source = [&](const Error &error) { return fail("sidecar " + std::string(source) + ": " + error.message); };
    auto document = parse_json_object(json_text);
    if (!document) return in_source(document.error());
    ObjectReader reader(*document, "");
    if (reader.find("listeners") == nullptr) return in_source(Error{"listeners: required key is missing"});
    auto listeners = read_listeners(reader, base_dir, plugin_name);
    if (!listeners) return in_source(listeners.error());
    if (auto known = reader.reject_unknown(); !known) return in_source(known.error());
    return listeners;
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
