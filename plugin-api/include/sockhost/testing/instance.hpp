// The harness's plugin instance: create and process_init, then requests served in the
// host's hook order, then destroy.
#ifndef SOCKHOST_TESTING_INSTANCE_HPP
#define SOCKHOST_TESTING_INSTANCE_HPP

#include <sockhost/plugin.h>
#include <sockhost/testing/fake_host.hpp>
#include <sockhost/testing/input.hpp>
#include <sockhost/testing/log_capture.hpp>
#include <sockhost/testing/plugin.hpp>
#include <sockhost/testing/results.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost::sdk::testing {

namespace detail {

inline std::string transport_name(sockhost_transport transport) {
    switch (transport) {
    case SOCKHOST_TRANSPORT_TCP: return "tcp";
    case SOCKHOST_TRANSPORT_UDP: return "udp";
    case SOCKHOST_TRANSPORT_UNIX_STREAM: return "unix";
    case SOCKHOST_TRANSPORT_UNIX_DGRAM: return "unix-dgram";
    }
    return "transport " + std::to_string(static_cast<unsigned>(transport));
}

}  // namespace detail

// One plugin instance, as for one listener: create and process_init in the constructor,
// destroy in close() or the destructor. serve() runs one request and may be called from
// several threads at once (as the threading mode does).
class Instance {
public:
    explicit Instance(const Plugin &plugin, std::string_view config_json = "{}")
        : descriptor_(plugin.descriptor()), origin_(plugin.origin()) {
        const detail::LogTo log_here(&log_);
        if (descriptor_.create != nullptr) {
            hooks_.push_back("create");
            const std::string config(config_json);  // NUL-terminated, as the ABI wants
            char error[1024] = "";
            create_status_ = descriptor_.create(config.c_str(), &instance_, error, sizeof error);
            error[sizeof error - 1] = '\0';
            create_error_ = error;
            if (create_status_ != SOCKHOST_OK) return;
        }
        created_ = true;
        if (descriptor_.process_init != nullptr) {
            hooks_.push_back("process_init");
            process_init_status_ = descriptor_.process_init(instance_);
        }
    }

    ~Instance() { close(); }
    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;

    // Calls destroy once (after a successful create only).
    void close() {
        if (!created_) return;
        created_ = false;
        const detail::LogTo log_here(&log_);
        if (descriptor_.destroy != nullptr) {
            hooks_.push_back("destroy");
            descriptor_.destroy(instance_);
        }
    }

    // Created, and process_init (if any) succeeded: requests may be served.
    bool ready() const noexcept {
        return created_ && process_init_status_.value_or(SOCKHOST_OK) == SOCKHOST_OK;
    }
    sockhost_status create_status() const noexcept { return create_status_; }
    const std::string &create_error() const noexcept { return create_error_; }
    std::optional<sockhost_status> process_init_status() const noexcept { return process_init_status_; }
    // Lifecycle hooks run so far ("create", "process_init", "destroy") and their log lines.
    const std::vector<std::string> &hooks() const noexcept { return hooks_; }
    const std::vector<LogLine> &log() const noexcept { return log_; }

    // Runs verify -> setup -> handle -> finish for one request. Throws std::logic_error when
    // the instance is not ready or the plugin does not serve the input's transport (the
    // host refuses such a listener at start-up).
    RequestResult serve(const Input &input) const {
        if (!ready()) throw std::logic_error(origin_ + ": instance is not ready to serve");
        if ((descriptor_.transports & static_cast<std::uint32_t>(input.transport)) == 0)
            throw std::logic_error(origin_ + ": plugin does not serve " +
                                   detail::transport_name(input.transport));
        RequestResult result;
        result.timeout_ms = input.timeout_ms;
        detail::FakeRequest request;
        request.input = &input;
        request.result = &result;
        detail::parse_address(input.peer, request.peer_address, request.peer_length);
        detail::parse_address(input.local, request.local_address, request.local_length);
        auto *handle = reinterpret_cast<sockhost_request *>(&request);
        const detail::LogTo log_here(&result.log);

        auto call = [&](const char *name, auto hook) {
            result.hooks.push_back(name);
            const detail::InHook in_hook(request);
            return hook(instance_, handle);
        };
        if (descriptor_.verify != nullptr) {
            result.verify = call("verify", descriptor_.verify);
            if (!*result.verify) return result;
        }
        if (descriptor_.setup != nullptr) {
            result.setup = call("setup", descriptor_.setup);
            if (*result.setup != SOCKHOST_OK) return result;  // no handle, no finish
        }
        result.handle = call("handle", descriptor_.handle);
        if (descriptor_.finish != nullptr) result.finish = call("finish", descriptor_.finish);
        return result;
    }

private:
    const sockhost_plugin_descriptor &descriptor_;
    std::string origin_;
    void *instance_ = nullptr;
    bool created_ = false;
    sockhost_status create_status_ = SOCKHOST_OK;
    std::string create_error_;
    std::optional<sockhost_status> process_init_status_;
    std::vector<std::string> hooks_;
    std::vector<LogLine> log_;
};

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_INSTANCE_HPP
