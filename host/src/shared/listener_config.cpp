#include "parse_listener.hpp"

#include <sockhost/host/shared/privileges.hpp>

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

// Users or groups by name or numeric id, resolved now: a name that does not exist is an
// error at load, not a silent "nobody may connect".
template <typename Id>
Result<void> read_ids(ObjectReader &reader, std::string_view key, Result<Id> (*resolve)(std::string_view),
                      std::vector<Id> &out) {
    const json *value = reader.find(key);
    if (value == nullptr) return {};
    if (!value->is_array()) return reader.type_error(key, "an array of names or ids", *value);
    if (value->empty()) return fail(reader.key_path(key) + ": is empty: list at least one, or leave the key out");
    for (std::size_t index = 0; index < value->size(); ++index) {
        const json &item = (*value)[index];
        const std::string item_path = reader.key_path(key) + "[" + std::to_string(index) + "]";
        std::string text;
        if (item.is_number_unsigned())
            text = std::to_string(item.get<unsigned long long>());
        else if (item.is_string())
            text = item.get<std::string>();
        else
            return fail(item_path + ": expected a name or a numeric id, got " + std::string(item.type_name()));
        if (auto refused = reader.refuse_nul(key, text); !refused) return refused;
        auto id = resolve(text);
        if (!id) return fail(item_path + ": " + id.error().message);
        out.push_back(*id);
    }
    return {};
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

// The transports and modes an option applies to, as bit sets.
constexpr unsigned bit(Transport transport) { return 1u << static_cast<unsigned>(transport); }
constexpr unsigned bit(Mode mode) { return 1u << static_cast<unsigned>(mode); }
constexpr unsigned kInet = bit(Transport::tcp) | bit(Transport::udp);
constexpr unsigned kUnix = bit(Transport::unix_stream) | bit(Transport::unix_dgram);
constexpr unsigned kStream = bit(Transport::tcp) | bit(Transport::unix_stream);
constexpr unsigned kDatagram = bit(Transport::udp) | bit(Transport::unix_dgram);
constexpr unsigned kAnyTransport = kInet | kUnix;
constexpr unsigned kAnyMode = bit(Mode::sync) | bit(Mode::threading) | bit(Mode::forking) | bit(Mode::event);

template <typename Number>
Result<void> read_number(ObjectReader &reader, std::string_view key, long long minimum, long long maximum, Number &out) {
    auto number = static_cast<long long>(out);
    SOCKHOST_TRY(reader.integer(key, minimum, maximum, number));
    out = static_cast<Number>(number);
    return {};
}

Result<void> read_cidr_list(ObjectReader &reader, std::string_view key, std::vector<Cidr> &out) {
    auto cidrs = read_cidrs(reader, key);
    if (!cidrs) return std::unexpected(cidrs.error());
    out = std::move(*cidrs);
    return {};
}

// One listener option, declared once: its key, where it applies (transports and modes),
// what the error says where it does not, and how it is read. An option that cannot apply
// to a listener is an error, never silently ignored.
struct ListenerOption {
    std::string_view key;
    unsigned transports;
    unsigned modes;
    std::string_view elsewhere;
    Result<void> (*read)(ObjectReader &reader, std::string_view key, ListenerConfig &listener);
};

const ListenerOption kListenerOptions[] = {
    {"request_queue_size", kStream, kAnyMode, "datagram listeners have no connection queue",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_number(r, k, 1, 65535, l.bind.request_queue_size); }},
    {"reuse_address", kInet, kAnyMode, "only tcp and udp listeners reuse an address",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.boolean(k, l.bind.reuse_address); }},
    {"reuse_port", kInet, kAnyMode, "only tcp and udp listeners can reuse a port",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.boolean(k, l.bind.reuse_port); }},
    {"socket_mode", kUnix, kAnyMode, "only unix and unix-dgram listeners have a socket file",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) -> Result<void> {
         std::string text;
         SOCKHOST_TRY(r.string(k, text, false));
         auto permissions = parse_socket_mode(text, r.key_path(k));
         if (!permissions) return std::unexpected(permissions.error());
         l.bind.socket_mode = *permissions;
         return {};
     }},
    {"socket_owner", kUnix, kAnyMode, "only unix and unix-dgram listeners have a socket file",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) -> Result<void> {
         std::string text;
         SOCKHOST_TRY(r.string(k, text, false));
         auto owner = resolve_socket_owner(text);
         if (!owner) return fail(r.key_path(k) + ": " + owner.error().message);
         l.bind.socket_owner = *owner;
         return {};
     }},
    {"max_packet_size", kDatagram, kAnyMode, "only udp and unix-dgram listeners receive packets",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_number(r, k, 1, 65535, l.options.max_packet_size); }},
    {"timeout", kAnyTransport, kAnyMode, "",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.seconds(k, l.options.timeout); }},
    {"request_deadline", kStream, kAnyMode,
     "a datagram arrives whole, so it cannot trickle; only the reply's send waits, which timeout bounds",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.seconds(k, l.options.request_deadline); }},
    {"tcp_nodelay", bit(Transport::tcp), kAnyMode, "only tcp listeners have TCP_NODELAY",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.boolean(k, l.options.tcp_nodelay); }},
    {"max_children", kAnyTransport, bit(Mode::forking), "only applies to mode forking",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_number(r, k, 1, 100000, l.options.max_children); }},
    {"max_threads", kAnyTransport, bit(Mode::threading), "only applies to mode threading",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_number(r, k, 1, 100000, l.options.max_threads); }},
    {"max_connections", kAnyTransport, bit(Mode::event), "only applies to mode event",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_number(r, k, 1, 10000000, l.options.max_connections); }},
    {"fiber_stack_size", kAnyTransport, bit(Mode::event), "only applies to mode event",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) {
         return read_number(r, k, static_cast<long long>(kMinFiberStackSize), static_cast<long long>(kMaxFiberStackSize),
                            l.options.fiber_stack_size);
     }},
    {"stall_warning", kAnyTransport, bit(Mode::sync) | bit(Mode::event),
     "only applies to modes sync and event (in threading and forking a long hook holds up no other request)",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.seconds(k, l.options.stall_warning); }},
    {"handoff", kStream, kAnyMode, "a datagram listener has no connections to hand over",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.boolean(k, l.options.handoff); }},
    {"block_on_close", kAnyTransport, kAnyMode, "",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.boolean(k, l.options.block_on_close); }},
    {"stuck_warning", kAnyTransport, kAnyMode, "",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.seconds(k, l.options.stuck_warning); }},
    {"stuck_limit", kAnyTransport, kAnyMode, "",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return r.seconds(k, l.options.stuck_limit); }},
    {"allow", kInet, kAnyMode, "allow/deny lists apply to tcp and udp listeners only",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_cidr_list(r, k, l.options.access.allow); }},
    {"deny", kInet, kAnyMode, "allow/deny lists apply to tcp and udp listeners only",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) { return read_cidr_list(r, k, l.options.access.deny); }},
    {"allow_users", bit(Transport::unix_stream), kAnyMode,
     "only a unix (stream) listener knows its peer's user (SO_PEERCRED)",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) {
         return read_ids<uid_t>(r, k, resolve_user_id, l.options.access.allow_users);
     }},
    {"allow_groups", bit(Transport::unix_stream), kAnyMode,
     "only a unix (stream) listener knows its peer's group (SO_PEERCRED)",
     [](ObjectReader &r, std::string_view k, ListenerConfig &l) {
         return read_ids<gid_t>(r, k, resolve_group_id, l.options.access.allow_groups);
     }},
};

Result<void> read_tls(ObjectReader &reader, const std::filesystem::path &base_dir, ListenerConfig &listener) {
    const json *object = reader.find("tls");
    if (object == nullptr) return {};
    if (is_datagram(listener.address.transport))
        return fail(reader.key_path("tls") +
                    ": only tcp and unix listeners carry TLS (datagrams would need DTLS, which sockhost does not speak)");
    auto tls = parse_tls_config(*object, reader.key_path("tls"), base_dir);
    if (!tls) return std::unexpected(tls.error());
    listener.options.tls = std::move(*tls);
    return {};
}

// What every listener has: where it listens, its name, plugin, mode and plugin config.
Result<void> read_identity(ObjectReader &reader, const std::filesystem::path &base_dir,
                           const std::string &implied_plugin, ListenerConfig &listener) {
    std::string listen_text;
    SOCKHOST_TRY(reader.string("listen", listen_text, true));
    auto address = parse_listen_address(listen_text);
    if (!address) return fail(reader.key_path("listen") + ": " + address.error().message);
    listener.address = *address;
    if (!is_inet(listener.address.transport)) {
        listener.address.path = (base_dir / listener.address.path).lexically_normal().string();
        // sun_path's limit applies to the path as resolved against the config's directory.
        if (listener.address.path.size() >= kUnixPathCapacity)
            return fail(reader.key_path("listen") + ": socket path '" + listener.address.path + "' is longer than " +
                        std::to_string(kUnixPathCapacity - 1) + " bytes");
    }
    if (reader.find("name") != nullptr) {
        SOCKHOST_TRY(reader.string("name", listener.name, false));
        if (listener.name.empty() || listener.name.size() > 255 || listener.name.find(':') != std::string::npos)
            return fail(reader.key_path("name") + ": '" + listener.name +
                        "' must be 1 to 255 characters without ':' (systemd's LISTEN_FDNAMES rules)");
    }
    listener.plugin = implied_plugin;
    SOCKHOST_TRY(reader.string("plugin", listener.plugin, implied_plugin.empty()));
    if (!implied_plugin.empty() && listener.plugin != implied_plugin)
        return fail(reader.key_path("plugin") + ": '" + listener.plugin + "' in the sidecar of plugin '" +
                    implied_plugin + "': a sidecar declares only its own plugin's listeners");
    if (listener.plugin.empty() || listener.plugin.find('/') != std::string::npos || listener.plugin.ends_with(".so"))
        return fail(reader.key_path("plugin") + ": '" + listener.plugin +
                    "' must be a plugin name: the file name in plugin_dir without '.so'");
    listener.worker_group = listener.plugin;
    SOCKHOST_TRY(reader.string("worker_group", listener.worker_group, false));
    if (listener.worker_group.empty() || listener.worker_group.size() > 64)
        return fail(reader.key_path("worker_group") + ": '" + listener.worker_group + "' must be 1 to 64 characters");
    std::string mode_text = "sync";
    SOCKHOST_TRY(reader.string("mode", mode_text, false));
    auto mode = parse_mode(mode_text, reader.key_path("mode"));
    if (!mode) return std::unexpected(mode.error());
    listener.options.mode = *mode;
    listener.plugin_config_json = "{}";
    if (const json *plugin_config = reader.find("config")) listener.plugin_config_json = plugin_config->dump();
    return {};
}

// A path, like the listener's socket path, relative to the config file's directory.
Result<void> read_access_log(ObjectReader &reader, const std::filesystem::path &base_dir, ListenerConfig &listener) {
    if (reader.find("access_log") == nullptr) return {};
    std::string path;
    SOCKHOST_TRY(reader.string("access_log", path, false));
    if (path.empty() || path.find('\0') != std::string::npos || path.back() == '/')
        return fail(reader.key_path("access_log") + ": '" + path + "' is not a file path");
    listener.options.access_log = (base_dir / path).lexically_normal().string();
    return {};
}

}  // namespace

Result<ListenerConfig> parse_listener(const json &object, const std::string &path, const std::filesystem::path &base_dir,
                                      const std::string &implied_plugin) {
    if (!object.is_object()) return fail(path + ": expected an object, got " + std::string(object.type_name()));
    ObjectReader reader(object, path);
    ListenerConfig listener;
    SOCKHOST_TRY(read_identity(reader, base_dir, implied_plugin, listener));
    SOCKHOST_TRY(read_access_log(reader, base_dir, listener));
    SOCKHOST_TRY(read_tls(reader, base_dir, listener));
    const unsigned transport = bit(listener.address.transport);
    const unsigned mode = bit(listener.options.mode);
    for (const ListenerOption &option : kListenerOptions) {
        if (reader.find(option.key) == nullptr) continue;
        if ((option.transports & transport) == 0 || (option.modes & mode) == 0)
            return fail(reader.key_path(option.key) + ": " + std::string(option.elsewhere));
        SOCKHOST_TRY(option.read(reader, option.key, listener));
    }
    SOCKHOST_TRY(reader.reject_unknown());
    return listener;
}

}  // namespace sockhost
