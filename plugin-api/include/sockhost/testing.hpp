// Runs a sockhost plugin with no sockets: a host function table over in-memory input and
// output, one request at a time, for plugin unit tests (GoogleTest or anything else).
// Header-only; link the CMake target sockhost::testing (it adds -ldl where needed).
//
//   sockhost::sdk::testing::Plugin echo("/path/to/echo.so");     // or Plugin(&entry_fn)
//   sockhost::sdk::testing::Input input;
//   input.transport = SOCKHOST_TRANSPORT_TCP;
//   input.bytes = "hello";                                       // then end of input
//   auto result = sockhost::sdk::testing::run(echo, "{}", input);
//   EXPECT_EQ(result.handle, SOCKHOST_OK);
//   EXPECT_EQ(result.output, "hello");
//
// run() does create -> process_init -> verify -> setup -> handle -> finish -> destroy.
// For several requests against one instance (state, concurrency), use Instance::serve,
// which may be called from several threads at once.
//
// The rules are those of plugin.h: finish runs after handle even when handle failed, and
// not when setup failed; a refused verify skips setup, handle and finish. Stream input is
// `bytes` followed by end of input (or by `read_error`); a datagram's `bytes` is the
// packet, readable in pieces like a buffer, and what is written is the reply. Sleeps and
// timeouts are recorded, never waited for.
#ifndef SOCKHOST_TESTING_HPP
#define SOCKHOST_TESTING_HPP

#include <sockhost/descriptor_check.hpp>
#include <sockhost/plugin.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sockhost::sdk::testing {

// One request as the plugin will see it.
struct Input {
    sockhost_transport transport = SOCKHOST_TRANSPORT_TCP;
    std::string bytes;  // stream: the bytes before end of input; datagram: the packet
    std::string peer = "127.0.0.1:40000";  // peer_text; peer_sockaddr is parsed from it
    std::string local = "127.0.0.1:8000";
    std::uint64_t timeout_ms = 0;  // initial timeout_ms()
    // Largest count one read returns (0: no limit): small values exercise parsers on
    // requests that arrive in pieces.
    std::size_t max_read_bytes = 0;
    // When set, reads fail with this reason after `bytes` instead of seeing end of input
    // (a timeout or a reset).
    std::optional<std::string> read_error;
    // When set, every write and flush fails with this reason (the peer went away).
    std::optional<std::string> write_error;
    // The host has begun to stop (a reload, SIGTERM) and still serves the request (the
    // drain): stopping() returns true; reads, writes and sleeps work as usual.
    bool draining = false;
    // ... or it begins to once the plugin has read this many bytes: a keep-alive
    // connection whose later requests arrive while the host drains.
    std::optional<std::size_t> draining_after_bytes_read;
    // The host is stopping and has cancelled the request (the drain deadline passed):
    // sleep_ms fails, and stopping() returns true.
    bool stopping = false;
};

struct LogLine {
    sockhost_log_level level = SOCKHOST_LOG_INFO;
    std::string message;
    std::string peer;  // the request's peer when the line was logged with a request
};

// What happened to one request. A hook's status is empty when it did not run: absent
// from the descriptor, or skipped by the ordering rules.
struct RequestResult {
    std::optional<bool> verify;
    std::optional<sockhost_status> setup;
    std::optional<sockhost_status> handle;
    std::optional<sockhost_status> finish;
    std::vector<std::string> hooks;  // the hooks that ran, in order: "verify", "setup", ...

    std::string output;             // every byte written (stream), or the reply (datagram)
    std::size_t write_count = 0;    // successful write calls
    std::size_t flush_count = 0;    // flush calls on a stream
    std::size_t unflushed_bytes = 0;  // written after the last flush (the host sends them at finish)
    std::size_t bytes_read = 0;     // input the plugin consumed
    // bytes_read at each between_requests call: where the plugin said a request ended.
    std::vector<std::size_t> between_requests_at;
    // bytes_read at each stopping() call that returned true.
    std::vector<std::size_t> stopping_seen_at;

    std::string error;  // the last message given to set_error
    std::vector<LogLine> log;
    std::vector<std::uint64_t> sleeps_ms;
    std::uint64_t timeout_ms = 0;  // the request's timeout at the end
    // Calls that break the ABI's rules (a request function used outside its hook or on
    // another thread). Always empty for a correct plugin.
    std::vector<std::string> misuse;

    // Served to the end: verify accepted and every hook that ran returned SOCKHOST_OK.
    bool ok() const {
        auto fine = [](const std::optional<sockhost_status> &status) {
            return !status || *status == SOCKHOST_OK;
        };
        return verify.value_or(true) && handle.has_value() && fine(setup) && fine(handle) &&
               fine(finish);
    }
};

// run(): the request's result plus the instance's lifecycle.
struct RunResult : RequestResult {
    sockhost_status create = SOCKHOST_ERROR;
    std::string create_error;  // what create wrote into its error buffer
    std::optional<sockhost_status> process_init;
};

namespace detail {

// The harness's sockhost_request: the ABI type is opaque, so this is cast to and from it.
struct FakeRequest {
    const Input *input = nullptr;
    RequestResult *result = nullptr;
    std::size_t position = 0;
    std::string last_error;
    sockaddr_storage peer_address{};
    socklen_t peer_length = 0;
    sockaddr_storage local_address{};
    socklen_t local_length = 0;
    bool in_hook = false;
    std::thread::id hook_thread;
};

inline FakeRequest &unwrap(const sockhost_request *request) {
    return *reinterpret_cast<FakeRequest *>(const_cast<sockhost_request *>(request));
}

inline bool is_datagram(sockhost_transport transport) {
    return (transport & SOCKHOST_TRANSPORTS_DATAGRAM) != 0;
}

// Lines logged with no request go to the hook running on this thread, if any.
inline thread_local std::vector<LogLine> *current_log = nullptr;

inline std::mutex &unattributed_mutex() {
    static std::mutex mutex;
    return mutex;
}
inline std::vector<LogLine> &unattributed_lines() {
    static std::vector<LogLine> lines;
    return lines;
}

class LogTo {
public:
    explicit LogTo(std::vector<LogLine> *sink) noexcept : previous_(current_log) {
        current_log = sink;
    }
    ~LogTo() { current_log = previous_; }
    LogTo(const LogTo &) = delete;
    LogTo &operator=(const LogTo &) = delete;

private:
    std::vector<LogLine> *previous_;
};

// "1.2.3.4:5", "[::1]:5", "unix:/path", "unix:(unbound)" to a sockaddr; length 0 if the
// text is none of these.
inline void parse_address(const std::string &text, sockaddr_storage &address, socklen_t &length) {
    address = sockaddr_storage{};
    length = 0;
    if (text.rfind("unix:", 0) == 0) {
        auto &unix_address = reinterpret_cast<sockaddr_un &>(address);
        unix_address.sun_family = AF_UNIX;
        const std::string path = text.substr(5);
        if (path == "(unbound)") {
            length = sizeof(sa_family_t);
        } else if (path.size() < sizeof unix_address.sun_path) {
            std::memcpy(unix_address.sun_path, path.data(), path.size());
            length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        }
        return;
    }
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return;
    const int port = std::atoi(text.c_str() + colon + 1);
    if (port < 0 || port > 65535) return;
    if (text.front() == '[' && colon > 1 && text[colon - 1] == ']') {
        auto &ipv6 = reinterpret_cast<sockaddr_in6 &>(address);
        const std::string host = text.substr(1, colon - 2);
        if (inet_pton(AF_INET6, host.c_str(), &ipv6.sin6_addr) != 1) return;
        ipv6.sin6_family = AF_INET6;
        ipv6.sin6_port = htons(static_cast<std::uint16_t>(port));
        length = sizeof ipv6;
    } else {
        auto &ipv4 = reinterpret_cast<sockaddr_in &>(address);
        const std::string host = text.substr(0, colon);
        if (inet_pton(AF_INET, host.c_str(), &ipv4.sin_addr) != 1) return;
        ipv4.sin_family = AF_INET;
        ipv4.sin_port = htons(static_cast<std::uint16_t>(port));
        length = sizeof ipv4;
    }
}

// The host function table, over FakeRequest.
struct FakeHost {
    // Records a call made outside the hook that owns the request; false when misused.
    static bool allowed(const FakeRequest &request, const char *function) {
        if (request.in_hook && request.hook_thread == std::this_thread::get_id()) return true;
        request.result->misuse.push_back(std::string(function) +
                                         " called outside its request's hook or thread");
        return false;
    }

    static std::int64_t read(sockhost_request *handle, void *buffer, std::size_t capacity) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "read")) return -1;
        if (capacity == 0 || buffer == nullptr) {
            request.last_error = "read with no buffer";
            return -1;
        }
        const std::string &bytes = request.input->bytes;
        std::size_t count = std::min(capacity, bytes.size() - request.position);
        if (count == 0) {
            if (request.input->read_error) {
                request.last_error = *request.input->read_error;
                return -1;
            }
            return 0;
        }
        if (request.input->max_read_bytes != 0) count = std::min(count, request.input->max_read_bytes);
        std::memcpy(buffer, bytes.data() + request.position, count);
        request.position += count;
        request.result->bytes_read += count;
        return static_cast<std::int64_t>(count);
    }

    static std::int64_t read_line(sockhost_request *handle, char *buffer, std::size_t capacity) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "read_line")) return -1;
        if (capacity == 0 || buffer == nullptr) {
            request.last_error = "read_line with no buffer";
            return -1;
        }
        const std::string &bytes = request.input->bytes;
        const std::size_t remaining = bytes.size() - request.position;
        const std::size_t newline = bytes.find('\n', request.position);
        if (newline == std::string::npos && request.input->read_error) {
            // The line never ends: the wait for the rest of it fails.
            request.last_error = *request.input->read_error;
            return -1;
        }
        const std::size_t length =
            newline == std::string::npos ? remaining : newline - request.position + 1;
        if (length > capacity - 1) {
            // As a real host would, it has consumed what fitted: the request's state is
            // now unknown, as plugin.h says.
            request.position += capacity - 1;
            request.result->bytes_read += capacity - 1;
            request.last_error = "line longer than " + std::to_string(capacity - 1) + " bytes";
            return -1;
        }
        std::memcpy(buffer, bytes.data() + request.position, length);
        buffer[length] = '\0';
        request.position += length;
        request.result->bytes_read += length;
        return static_cast<std::int64_t>(length);
    }

    static sockhost_status write(sockhost_request *handle, const void *data, std::size_t length) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "write")) return SOCKHOST_ERROR;
        if (request.input->write_error) {
            request.last_error = *request.input->write_error;
            return SOCKHOST_ERROR;
        }
        if (length > 0 && data == nullptr) {
            request.last_error = "write of NULL data";
            return SOCKHOST_ERROR;
        }
        request.result->output.append(static_cast<const char *>(data), length);
        request.result->unflushed_bytes += length;
        ++request.result->write_count;
        return SOCKHOST_OK;
    }

    static sockhost_status flush(sockhost_request *handle) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "flush")) return SOCKHOST_ERROR;
        if (is_datagram(request.input->transport)) return SOCKHOST_OK;  // the reply goes at finish
        if (request.input->write_error) {
            request.last_error = *request.input->write_error;
            return SOCKHOST_ERROR;
        }
        ++request.result->flush_count;
        request.result->unflushed_bytes = 0;
        return SOCKHOST_OK;
    }

    static const void *peer_sockaddr(const sockhost_request *handle, std::size_t *length) {
        const FakeRequest &request = unwrap(handle);
        if (length != nullptr) *length = request.peer_length;
        return &request.peer_address;
    }
    static const void *local_sockaddr(const sockhost_request *handle, std::size_t *length) {
        const FakeRequest &request = unwrap(handle);
        if (length != nullptr) *length = request.local_length;
        return &request.local_address;
    }
    static const char *peer_text(const sockhost_request *handle) {
        return unwrap(handle).input->peer.c_str();
    }
    static const char *local_text(const sockhost_request *handle) {
        return unwrap(handle).input->local.c_str();
    }
    static sockhost_transport transport(const sockhost_request *handle) {
        return unwrap(handle).input->transport;
    }
    static std::uint64_t timeout_ms(const sockhost_request *handle) {
        return unwrap(handle).result->timeout_ms;
    }
    static void set_timeout_ms(sockhost_request *handle, std::uint64_t milliseconds) {
        FakeRequest &request = unwrap(handle);
        if (allowed(request, "set_timeout_ms")) request.result->timeout_ms = milliseconds;
    }
    static sockhost_status sleep_ms(sockhost_request *handle, std::uint64_t milliseconds) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "sleep_ms")) return SOCKHOST_ERROR;
        request.result->sleeps_ms.push_back(milliseconds);  // recorded, not waited for
        if (request.input->stopping) {
            request.last_error = "the host is stopping the request";
            return SOCKHOST_ERROR;
        }
        return SOCKHOST_OK;
    }
    static void log(const sockhost_request *handle, sockhost_log_level level, const char *message) {
        LogLine line{level, message != nullptr ? message : "", ""};
        if (handle != nullptr) {
            const FakeRequest &request = unwrap(handle);
            line.peer = request.input->peer;
            request.result->log.push_back(std::move(line));
        } else if (current_log != nullptr) {
            current_log->push_back(std::move(line));
        } else {
            const std::lock_guard lock(unattributed_mutex());
            unattributed_lines().push_back(std::move(line));
        }
    }
    static void set_error(sockhost_request *handle, const char *message) {
        FakeRequest &request = unwrap(handle);
        if (allowed(request, "set_error")) request.result->error = message != nullptr ? message : "";
    }
    static const char *last_error(const sockhost_request *handle) {
        return unwrap(handle).last_error.c_str();
    }
    static void between_requests(sockhost_request *handle) {
        FakeRequest &request = unwrap(handle);
        if (allowed(request, "between_requests")) request.result->between_requests_at.push_back(request.result->bytes_read);
    }

    static bool stopping(const sockhost_request *handle) {
        const FakeRequest &request = unwrap(handle);
        if (!allowed(request, "stopping")) return false;
        const Input &input = *request.input;
        const std::size_t bytes_read = request.result->bytes_read;
        const bool stopping = input.draining || input.stopping ||
                              (input.draining_after_bytes_read && bytes_read >= *input.draining_after_bytes_read);
        if (stopping) request.result->stopping_seen_at.push_back(bytes_read);
        return stopping;
    }

    static const sockhost_host_api &table() {
        static const sockhost_host_api api = [] {
            sockhost_host_api value{};
            value.struct_size = sizeof(sockhost_host_api);
            value.abi_major = SOCKHOST_ABI_MAJOR;
            value.abi_minor = SOCKHOST_ABI_MINOR;
            value.read = &read;
            value.read_line = &read_line;
            value.write = &write;
            value.flush = &flush;
            value.peer_sockaddr = &peer_sockaddr;
            value.local_sockaddr = &local_sockaddr;
            value.peer_text = &peer_text;
            value.local_text = &local_text;
            value.transport = &transport;
            value.timeout_ms = &timeout_ms;
            value.set_timeout_ms = &set_timeout_ms;
            value.sleep_ms = &sleep_ms;
            value.log = &log;
            value.set_error = &set_error;
            value.last_error = &last_error;
            value.between_requests = &between_requests;
            value.stopping = &stopping;
            return value;
        }();
        return api;
    }
};

// Marks the request as inside a hook for the duration of one hook call.
class InHook {
public:
    explicit InHook(FakeRequest &request) noexcept : request_(request) {
        request_.in_hook = true;
        request_.hook_thread = std::this_thread::get_id();
    }
    ~InHook() { request_.in_hook = false; }
    InHook(const InHook &) = delete;
    InHook &operator=(const InHook &) = delete;

private:
    FakeRequest &request_;
};

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

// The host table the harness gives plugins (useful to call a plugin's entry by hand).
inline const sockhost_host_api &host_api() { return detail::FakeHost::table(); }

// Lines logged with no request from a thread that was not running a hook (e.g. a
// plugin's own thread). Takes them out.
inline std::vector<LogLine> take_unattributed_log() {
    const std::lock_guard lock(detail::unattributed_mutex());
    return std::exchange(detail::unattributed_lines(), {});
}

// A loaded plugin: its entry was called with the harness's host table and its descriptor
// checked as the host checks it. Throws std::runtime_error with a one-line reason.
class Plugin {
public:
    explicit Plugin(sockhost_plugin_entry_fn entry, std::string origin = "entry function")
        : origin_(std::move(origin)) {
        if (entry == nullptr) throw std::runtime_error(origin_ + ": no entry function");
        descriptor_ = entry(&host_api());
        check_descriptor();
    }

    // Opens a shared object with RTLD_NOW | RTLD_LOCAL, as the host does. The image stays
    // mapped until the process exits: dlclose may not unload, and a later load of the same
    // path must find the same image, as in the host.
    explicit Plugin(const std::filesystem::path &shared_object) : origin_(shared_object.string()) {
        void *image = ::dlopen(origin_.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (image == nullptr) throw std::runtime_error(origin_ + ": " + ::dlerror());
        void *symbol = ::dlsym(image, SOCKHOST_PLUGIN_ENTRY_SYMBOL);
        if (symbol == nullptr)
            throw std::runtime_error(origin_ + ": no symbol " SOCKHOST_PLUGIN_ENTRY_SYMBOL);
        descriptor_ = reinterpret_cast<sockhost_plugin_entry_fn>(symbol)(&host_api());
        check_descriptor();
    }

    const sockhost_plugin_descriptor &descriptor() const noexcept { return *descriptor_; }
    const std::string &origin() const noexcept { return origin_; }

private:
    void check_descriptor() const {
        if (std::string problem = ::sockhost::descriptor_problem(descriptor_); !problem.empty())
            throw std::runtime_error(origin_ + ": " + problem);
    }

    std::string origin_;
    const sockhost_plugin_descriptor *descriptor_ = nullptr;
};

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

// The whole lifecycle for one request: create -> process_init -> verify -> setup ->
// handle -> finish -> destroy. Stops after a failed create (no destroy) or a failed
// process_init (then destroy). `hooks` and `log` hold the lifecycle's entries too.
inline RunResult run(const Plugin &plugin, std::string_view config_json, const Input &input) {
    RunResult result;
    Instance instance(plugin, config_json);
    result.create = instance.create_status();
    result.create_error = instance.create_error();
    result.process_init = instance.process_init_status();
    const std::size_t lifecycle_hooks_before = instance.hooks().size();
    const std::size_t lifecycle_log_before = instance.log().size();
    if (instance.ready()) static_cast<RequestResult &>(result) = instance.serve(input);
    instance.close();

    auto splice = [](const auto &lifecycle, std::size_t before, auto &request_part) {
        std::decay_t<decltype(request_part)> all(lifecycle.begin(), lifecycle.begin() + before);
        all.insert(all.end(), request_part.begin(), request_part.end());
        all.insert(all.end(), lifecycle.begin() + before, lifecycle.end());
        request_part = std::move(all);
    };
    splice(instance.hooks(), lifecycle_hooks_before, result.hooks);
    splice(instance.log(), lifecycle_log_before, result.log);
    return result;
}

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_HPP
