// A test plugin for reloads that keep connections and state, written against plugin.h
// alone. A line protocol, one reply line per command:
//
//   pid            -> the serving process's pid (which generation answers)
//   count          -> how many commands this instance has served, across reloads (its
//                     exported state)
//   remember TEXT  -> OK; TEXT is this connection's handoff state from now
//   recall         -> the handoff state the connection came with, "(none)" when it came
//                     without, "(accepted here)" when this generation accepted it
//   stopping       -> yes | no (the host's stopping())
//   stopping-after MS -> the same, after sleeping MS milliseconds (host sleep)
//
// Config: "fail_import" (refuse every state), "export_delay_ms" (a slow export),
// "state_bytes" (pad the exported state to this size). Built three times (CMakeLists.txt):
// with everything, without SOCKHOST_HANDOFF_CONNECTIONS (HANDOFF_PROBE_NO_CONNECTIONS), and
// without export and import (HANDOFF_PROBE_NO_STATE); HANDOFF_PROBE_NAME names each.
#include <sockhost/plugin.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {

const sockhost_host_api *host = nullptr;

struct Instance {
    bool fail_import = false;
    int export_delay_ms = 0;
    std::size_t state_bytes = 0;
    std::atomic<unsigned long long> served{0};
    std::string exported;
};

sockhost_status create(const char *config_json, void **instance, char *error, size_t capacity) {
    auto *made = new Instance;
    try {
        const auto config = nlohmann::json::parse(config_json);
        for (const auto &[key, value] : config.items()) {
            if (key == "fail_import") made->fail_import = value.get<bool>();
            else if (key == "export_delay_ms") made->export_delay_ms = value.get<int>();
            else if (key == "state_bytes") made->state_bytes = value.get<std::size_t>();
            else throw std::runtime_error("unknown config key '" + key + "'");
        }
    } catch (const std::exception &failure) {
        std::snprintf(error, capacity, "%s", failure.what());
        delete made;
        return SOCKHOST_ERROR;
    }
    *instance = made;
    return SOCKHOST_OK;
}

void destroy(void *instance) { delete static_cast<Instance *>(instance); }

bool write_line(sockhost_request *request, const std::string &text) {
    const std::string line = text + "\n";
    return host->write(request, line.data(), line.size()) == SOCKHOST_OK && host->flush(request) == SOCKHOST_OK;
}

sockhost_status handle(void *instance, sockhost_request *request) {
    auto &self = *static_cast<Instance *>(instance);
    char line[4096];
    for (;;) {
        const int64_t length = host->read_line(request, line, sizeof line);
        if (length <= 0) return length == 0 ? SOCKHOST_OK : SOCKHOST_ERROR;
        std::string command(line, static_cast<std::size_t>(length));
        while (!command.empty() && (command.back() == '\n' || command.back() == '\r')) command.pop_back();
        ++self.served;
        std::string reply;
        if (command == "pid") {
            reply = std::to_string(::getpid());
        } else if (command == "count") {
            reply = std::to_string(self.served.load());
        } else if (command.rfind("remember ", 0) == 0) {
            const std::string text = command.substr(9);
            reply = host->set_handoff_state(request, text.data(), text.size()) == SOCKHOST_OK
                        ? "OK"
                        : std::string("ERROR ") + host->last_error(request);
        } else if (command == "remember-too-much") {
            const std::string text(SOCKHOST_HANDOFF_STATE_MAX + 1, 'x');
            reply = host->set_handoff_state(request, text.data(), text.size()) == SOCKHOST_OK
                        ? "OK"
                        : std::string("ERROR ") + host->last_error(request);
        } else if (command == "recall") {
            size_t size = 0;
            const void *state = host->handoff_state(request, &size);
            reply = state == nullptr ? "(accepted here)"
                    : size == 0      ? "(none)"
                                     : std::string(static_cast<const char *>(state), size);
        } else if (command == "stopping") {
            reply = host->stopping(request) ? "yes" : "no";
        } else if (command.rfind("stopping-after ", 0) == 0) {
            host->sleep_ms(request, std::stoull(command.substr(15)));
            reply = host->stopping(request) ? "yes" : "no";
        } else {
            reply = "ERROR unknown command '" + command + "'";
        }
        if (!write_line(request, reply)) return SOCKHOST_ERROR;
        host->between_requests(request);
    }
}

sockhost_status export_state(void *instance, const void **data, size_t *length) {
    auto &self = *static_cast<Instance *>(instance);
    if (self.export_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(self.export_delay_ms));
    self.exported = std::to_string(self.served.load()) + "\n";
    if (self.exported.size() < self.state_bytes) self.exported.resize(self.state_bytes, '.');
    *data = self.exported.data();
    *length = self.exported.size();
    return SOCKHOST_OK;
}

sockhost_status import_state(void *instance, const void *data, size_t length, char *error, size_t capacity) {
    auto &self = *static_cast<Instance *>(instance);
    if (self.fail_import) {
        std::snprintf(error, capacity, "deliberately refused %zu bytes", length);
        return SOCKHOST_ERROR;
    }
    const std::string text(static_cast<const char *>(data), length);
    try {
        self.served = std::stoull(text.substr(0, text.find('\n')));
    } catch (const std::exception &) {
        std::snprintf(error, capacity, "not a count: %zu bytes", length);
        return SOCKHOST_ERROR;
    }
    return SOCKHOST_OK;
}

sockhost_plugin_descriptor descriptor{};

}  // namespace

extern "C" SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *table) {
    host = table;
    descriptor.struct_size = sizeof descriptor;
    descriptor.abi_major = SOCKHOST_ABI_MAJOR;
    descriptor.abi_minor = SOCKHOST_ABI_MINOR;
    descriptor.name = HANDOFF_PROBE_NAME;
    descriptor.version = "1.0.0";
    descriptor.transports = SOCKHOST_TRANSPORTS_STREAM;
    descriptor.create = create;
    descriptor.destroy = destroy;
    descriptor.handle = handle;
#ifndef HANDOFF_PROBE_NO_CONNECTIONS
    descriptor.handoff = SOCKHOST_HANDOFF_CONNECTIONS;
#endif
#ifndef HANDOFF_PROBE_NO_STATE
    descriptor.export_state = export_state;
    descriptor.import_state = import_state;
#else
    (void)export_state;
    (void)import_state;
#endif
    return &descriptor;
}
