// C++ sugar over the sockhost plugin ABI (plugin.h). Header-only, compiled into the
// plugin: nothing here crosses the ABI boundary except through plugin.h.
//
//   class Echo {
//   public:
//     explicit Echo(std::string_view config_json);        // throw to reject the config
//     void handle(sockhost::sdk::Request& request);        // required
//     // optional: bool verify(Request&); void setup(Request&); void finish(Request&);
//     //           void process_init();
//     // optional, for reloads (ABI 1.2, docs/plugin-sdk.md "Reloads"):
//     //   static constexpr bool hand_off_connections = true;  // idle connections move
//     //   std::string export_state();               // main thread, while requests run
//     //   void import_state(std::string_view state); // throw to fail the reload
//     // or, to declare metrics (ABI 1.3, docs/plugin-sdk.md "Metrics"):
//     //   Echo(std::string_view config_json, sockhost::sdk::InstanceContext& context)
//     //       : echoed_(context.counter("echo_bytes_total", "Bytes echoed")) {}
//   };
//   SOCKHOST_PLUGIN(Echo, "echo", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
//
// Every exception thrown by a hook becomes SOCKHOST_ERROR, with its message logged by the
// host next to the peer address (for export_state, logged with no peer; for the
// constructor and import_state, given back as the hook's error text).
#ifndef SOCKHOST_PLUGIN_HPP
#define SOCKHOST_PLUGIN_HPP

#include <sockhost/plugin.h>
#include <sockhost/plugin_metrics.hpp>
#include <sockhost/request.hpp>

#include <cxxabi.h>

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

// Everything here is in sockhost::sdk: the host has its own sockhost::Request and more,
// and a program that links both (a test, an embedding host) must not get two definitions
// of one name.
namespace sockhost::sdk {

// Set once by the entry function; each plugin has its own copy (hidden visibility).
inline const sockhost_host_api *host_api = nullptr;

// Logs one line with no request attached, e.g. from the constructor or process_init.
inline void log(sockhost_log_level level, const char *message) noexcept {
    if (host_api != nullptr) host_api->log(nullptr, level, message);
}

namespace detail {

// `Plugin(std::string_view config_json, InstanceContext&)`: it declares metrics.
template <typename Plugin>
concept TakesInstanceContext = std::constructible_from<Plugin, std::string_view, InstanceContext &>;

template <typename Plugin>
concept HasVerify = requires(Plugin &plugin, Request &request) {
    { plugin.verify(request) } -> std::convertible_to<bool>;
};
template <typename Plugin>
concept HasSetup = requires(Plugin &plugin, Request &request) { plugin.setup(request); };
template <typename Plugin>
concept HasFinish = requires(Plugin &plugin, Request &request) { plugin.finish(request); };
template <typename Plugin>
concept HasProcessInit = requires(Plugin &plugin) { plugin.process_init(); };
// `static constexpr bool hand_off_connections = true;` sets SOCKHOST_HANDOFF_CONNECTIONS.
template <typename Plugin>
concept DeclaresHandOffConnections = requires {
    { Plugin::hand_off_connections } -> std::convertible_to<bool>;
};
template <typename Plugin>
concept HasExportState = requires(Plugin &plugin) {
    { plugin.export_state() } -> std::convertible_to<std::string>;
};
template <typename Plugin>
concept HasImportState = requires(Plugin &plugin, std::string_view state) { plugin.import_state(state); };

template <typename Plugin>
std::uint32_t handoff_bits() noexcept {
    if constexpr (DeclaresHandOffConnections<Plugin>)
        return Plugin::hand_off_connections ? SOCKHOST_HANDOFF_CONNECTIONS : 0u;
    return 0u;
}

// What the host holds as the instance: the plugin object, and the bytes its last
// export_state gave, which must stay valid until the next export_state or destroy (one
// buffer per instance: two listeners' instances may be exported one after the other).
template <typename Plugin>
struct Hosted {
    explicit Hosted(std::string_view config_json) : plugin(config_json) {}
    Hosted(std::string_view config_json, InstanceContext &context) : plugin(construct(config_json, context)) {}
    static Plugin construct(std::string_view config_json, InstanceContext &context) {
        if constexpr (TakesInstanceContext<Plugin>)
            return Plugin(config_json, context);
        else
            return Plugin(config_json);
    }
    Plugin plugin;
    std::string exported_state;
};

// Logs "<what><reason>" as an error; never throws (it runs inside catch handlers).
inline void log_failure(const sockhost_request *request, const char *what,
                        const char *reason) noexcept {
    if (host_api == nullptr) return;
    char line[1024];  // room for a reason of describe_current_exception's 512 bytes and `what`
    std::snprintf(line, sizeof line, "%s%s", what, reason);
    host_api->log(request, SOCKHOST_LOG_ERROR, line);
}

// Writes `reason` into a hook's error buffer, cut to fit and NUL-terminated.
inline void write_error(char *error, std::size_t capacity, const char *reason) noexcept {
    if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", reason);
}

// Describes the exception being handled (only inside a catch block) into `out`: its type,
// then its message ("std::invalid_argument: stoi"); a plain std::runtime_error's or
// IoError's message alone, as those are written to be read alone.
inline void describe_current_exception(char *out, std::size_t capacity) noexcept {
    try {
        throw;
    } catch (const std::exception &failure) {
#if defined(__GXX_RTTI) || defined(__cpp_rtti)
        const std::type_info &type = typeid(failure);
        if (type != typeid(std::runtime_error) && type != typeid(IoError)) {
            int status = -1;
            char *name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
            std::snprintf(out, capacity, "%s: %s", status == 0 && name != nullptr ? name : type.name(),
                          failure.what());
            std::free(name);
            return;
        }
#endif
        std::snprintf(out, capacity, "%s", failure.what());
    } catch (...) {
        std::snprintf(out, capacity, "%s", "unknown exception");
    }
}

// Runs `body`; an exception becomes SOCKHOST_ERROR, described to `failed` (never throws).
template <typename Body, typename Failed>
sockhost_status run_guarded(Body &&body, Failed &&failed) noexcept {
    try {
        body();
        return SOCKHOST_OK;
    } catch (...) {
        char reason[512];
        describe_current_exception(reason, sizeof reason);
        failed(static_cast<const char *>(reason));
    }
    return SOCKHOST_ERROR;
}

// A hook with a request: the failure is the request's error (set_error).
template <typename Body>
sockhost_status guarded(sockhost_request *request, Body &&body) noexcept {
    return run_guarded(body, [&](const char *reason) {
        if (host_api != nullptr && request != nullptr) host_api->set_error(request, reason);
    });
}

// A hook without a request (no set_error): the failure is logged after `what`.
template <typename Body>
sockhost_status logged(const char *what, Body &&body) noexcept {
    return run_guarded(body, [&](const char *reason) { log_failure(nullptr, what, reason); });
}

// A hook with an error buffer (create, import_state): the failure is written there.
template <typename Body>
sockhost_status written(char *error, std::size_t error_capacity, Body &&body) noexcept {
    return run_guarded(body, [&](const char *reason) { write_error(error, error_capacity, reason); });
}

template <typename Plugin>
struct Trampolines {
    static Hosted<Plugin> &hosted(void *instance) noexcept { return *static_cast<Hosted<Plugin> *>(instance); }
    static Plugin &self(void *instance) noexcept { return hosted(instance).plugin; }

    static sockhost_status create(const char *config_json, void **instance, char *error,
                                  std::size_t error_capacity) noexcept {
        return create_with_context(nullptr, config_json, instance, error, error_capacity);
    }
    // With a NULL context (create, from a host that does not know create_with_context) the
    // plugin's metrics do nothing.
    static sockhost_status create_with_context(sockhost_instance_context *context, const char *config_json,
                                               void **instance, char *error, std::size_t error_capacity) noexcept {
        return written(error, error_capacity, [&] {
            InstanceContext wrapped(host_api, context);
            *instance = new Hosted<Plugin>(std::string_view(config_json), wrapped);
        });
    }
    static void destroy(void *instance) noexcept { delete &hosted(instance); }

    // process_init has no request, hence no set_error: its failure reason is logged.
    static sockhost_status process_init(void *instance) noexcept {
        return logged("process_init failed: ", [&] { self(instance).process_init(); });
    }
    // verify answers only yes or no, so a failure is logged before refusing.
    static bool verify(void *instance, sockhost_request *request) noexcept {
        bool verified = false;  // refusing is the safe answer when verification itself fails
        run_guarded(
            [&] {
                Request wrapped(host_api, request);
                verified = self(instance).verify(wrapped);
            },
            [&](const char *reason) { log_failure(request, "verify failed, request refused: ", reason); });
        return verified;
    }
    static sockhost_status setup(void *instance, sockhost_request *request) noexcept {
        return guarded(request, [&] {
            Request wrapped(host_api, request);
            self(instance).setup(wrapped);
        });
    }
    static sockhost_status handle(void *instance, sockhost_request *request) noexcept {
        return guarded(request, [&] {
            Request wrapped(host_api, request);
            self(instance).handle(wrapped);
        });
    }
    static sockhost_status finish(void *instance, sockhost_request *request) noexcept {
        return guarded(request, [&] {
            Request wrapped(host_api, request);
            self(instance).finish(wrapped);
        });
    }

    // export_state has no request, hence no set_error: its failure reason is logged. The
    // previous export's bytes are replaced only by a successful one.
    static sockhost_status export_state(void *instance, const void **data, std::size_t *length) noexcept {
        return logged("export_state failed: ", [&] {
            Hosted<Plugin> &target = hosted(instance);
            target.exported_state = std::string(target.plugin.export_state());
            *data = target.exported_state.data();
            *length = target.exported_state.size();
        });
    }
    static sockhost_status import_state(void *instance, const void *data, std::size_t length, char *error,
                                        std::size_t error_capacity) noexcept {
        return written(error, error_capacity, [&] {
            self(instance).import_state(std::string_view(static_cast<const char *>(data), length));
        });
    }

    static sockhost_plugin_descriptor describe(const char *name, const char *version,
                                               std::uint32_t transports) noexcept {
        sockhost_plugin_descriptor descriptor{};
        descriptor.struct_size = sizeof(sockhost_plugin_descriptor);
        descriptor.abi_major = SOCKHOST_ABI_MAJOR;
        descriptor.abi_minor = SOCKHOST_ABI_MINOR;
        descriptor.name = name;
        descriptor.version = version;
        descriptor.transports = transports;
        descriptor.create = &create;
        descriptor.destroy = &destroy;
        if constexpr (HasProcessInit<Plugin>) descriptor.process_init = &process_init;
        if constexpr (HasVerify<Plugin>) descriptor.verify = &verify;
        if constexpr (HasSetup<Plugin>) descriptor.setup = &setup;
        descriptor.handle = &handle;
        if constexpr (HasFinish<Plugin>) descriptor.finish = &finish;
        descriptor.handoff = handoff_bits<Plugin>();
        if constexpr (HasExportState<Plugin>) descriptor.export_state = &export_state;
        if constexpr (HasImportState<Plugin>) descriptor.import_state = &import_state;
        descriptor.create_with_context = &create_with_context;
        return descriptor;
    }
};

}  // namespace detail
}  // namespace sockhost::sdk

// Exports the plugin class as this shared object's one entry symbol.
#define SOCKHOST_PLUGIN(PluginClass, name, version, transports)                                     \
    extern "C" SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(             \
        const sockhost_host_api *host) {                                                            \
        static const sockhost_plugin_descriptor descriptor =                                        \
            ::sockhost::sdk::detail::Trampolines<PluginClass>::describe(name, version, transports); \
        ::sockhost::sdk::host_api = host;                                                           \
        return &descriptor;                                                                         \
    }

#endif  // SOCKHOST_PLUGIN_HPP
