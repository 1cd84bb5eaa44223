// The request handler as the core sees it: socketserver's BaseRequestHandler. A plugin is
// one implementation (PluginHandler); C++ programs may compose servers with their own.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/log_rate_limit.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/plugin.h>

#include <string>
#include <string_view>

namespace sockhost {

class Handler {
public:
    virtual ~Handler() = default;

    virtual std::string_view name() const = 0;
    virtual bool supports(Transport) const { return true; }

    // Once in each process that will serve requests, before its first one.
    virtual Result<void> process_init() { return {}; }

    // Each hook may leave a message with request.set_handler_error() when it fails.
    virtual bool verify(Request &) { return true; }
    virtual sockhost_status setup(Request &) { return SOCKHOST_OK; }
    virtual sockhost_status handle(Request &request) = 0;
    virtual sockhost_status finish(Request &) { return SOCKHOST_OK; }

    // Reloads (plugin.h, ABI 1.2): whether idle connections may move to the next
    // generation, and the instance's state carried across. Main thread only.
    virtual bool hands_off_connections() const { return false; }
    virtual bool exports_state() const { return false; }
    virtual bool imports_state() const { return false; }
    // The bytes to carry (a copy); an error fails the reload.
    virtual Result<std::string> export_state() { return std::string(); }
    virtual Result<void> import_state(std::string_view) { return {}; }

    // The handler serves one listener: its failed hooks' lines are limited together.
    LogRateLimit &hook_failure_log() { return hook_failure_log_; }

    // The listener's index in the configuration, which the supervisor's reports of its
    // requests name (request_activity.hpp); -1: not recorded.
    int listener_index() const { return listener_index_; }
    void set_listener_index(int index) { listener_index_ = index; }

private:
    LogRateLimit hook_failure_log_;
    int listener_index_ = -1;
};

}  // namespace sockhost
