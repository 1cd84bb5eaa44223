// The harness's plugin instance: create and process_init, then requests served in the
// host's hook order, then destroy.
#ifndef SOCKHOST_TESTING_INSTANCE_HPP
#define SOCKHOST_TESTING_INSTANCE_HPP

#include <sockhost/plugin.h>
#include <sockhost/plugin_metrics.hpp>
#include <sockhost/testing/fake_host.hpp>
#include <sockhost/testing/input.hpp>
#include <sockhost/testing/log_capture.hpp>
#include <sockhost/testing/plugin.hpp>
#include <sockhost/testing/results.hpp>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost::sdk::testing {

namespace detail {

struct InstanceAccess;  // below: serve_forked and serve_interleaved run hooks as other modes do

inline std::string transport_name(sockhost_transport transport) {
    switch (transport) {
    case SOCKHOST_TRANSPORT_TCP: return "tcp";
    case SOCKHOST_TRANSPORT_UDP: return "udp";
    case SOCKHOST_TRANSPORT_UNIX_STREAM: return "unix";
    case SOCKHOST_TRANSPORT_UNIX_DGRAM: return "unix-dgram";
    }
    return "transport " + std::to_string(static_cast<unsigned>(transport));
}

inline std::uint32_t mode_to_abi(Mode mode) {
    switch (mode) {
    case Mode::sync: return SOCKHOST_MODE_SYNC;
    case Mode::threading: return SOCKHOST_MODE_THREADING;
    case Mode::forking: return SOCKHOST_MODE_FORKING;
    case Mode::event: return SOCKHOST_MODE_EVENT;
    case Mode::unknown: break;
    }
    return 0;
}

// The place an Instance without one is told: the first transport the plugin serves, on
// the default Input's local address, in threading mode, generation 1's worker 1.
inline InstanceInfo default_place(const sockhost_plugin_descriptor &descriptor) {
    InstanceInfo place;
    place.transport = SOCKHOST_TRANSPORT_TCP;
    for (const sockhost_transport transport : {SOCKHOST_TRANSPORT_TCP, SOCKHOST_TRANSPORT_UDP,
                                               SOCKHOST_TRANSPORT_UNIX_STREAM, SOCKHOST_TRANSPORT_UNIX_DGRAM})
        if ((descriptor.transports & static_cast<std::uint32_t>(transport)) != 0) {
            place.transport = transport;
            break;
        }
    const std::string name = transport_name(place.transport);
    place.address = (place.transport & (SOCKHOST_TRANSPORT_TCP | SOCKHOST_TRANSPORT_UDP)) != 0 ? name + "://127.0.0.1:8000"
                                                                       : name + ":/tmp/sockhost-test.sock";
    place.mode = Mode::threading;
    place.worker_index = 1;
    place.generation = 1;
    return place;
}

}  // namespace detail

// One plugin instance, as for one listener: create and process_init in the constructor,
// destroy in close() or the destructor. serve() runs one request and may be called from
// several threads at once (as the threading mode does). export_state() and import_state()
// call those hooks as a reload does: export on the old generation's instance, while it
// may serve on other threads; import on the new one, before it serves.
class Instance {
public:
    explicit Instance(const Plugin &plugin, std::string_view config_json = "{}")
        : Instance(plugin, config_json, detail::default_place(plugin.descriptor())) {}

    // With the place create_with_context's instance_info reports (ABI 1.4): a plugin that
    // refuses a mode, or logs its worker, is tested with it.
    Instance(const Plugin &plugin, std::string_view config_json, const InstanceInfo &place)
        : descriptor_(plugin.descriptor()), origin_(plugin.origin()) {
        metrics_.listener_name = place.listener_name;
        metrics_.address = place.address;
        metrics_.info = {
            .struct_size = sizeof(sockhost_instance_info),
            .transport = static_cast<std::uint32_t>(place.transport),
            .mode = detail::mode_to_abi(place.mode),
            .worker_index = place.worker_index,
            .generation = place.generation,
            .listener_name = metrics_.listener_name.c_str(),
            .address = metrics_.address.c_str(),
        };
        const detail::LogTo log_here(&log_);
        const bool with_context = SOCKHOST_DESCRIPTOR_HAS(&descriptor_, create_with_context) &&
                                  descriptor_.create_with_context != nullptr;
        if (descriptor_.create != nullptr || with_context) {
            hooks_.push_back("create");
            const std::string config(config_json);  // NUL-terminated, as the ABI wants
            char error[1024] = "";
            auto *context = reinterpret_cast<sockhost_instance_context *>(&metrics_);
            create_status_ = with_context
                                 ? descriptor_.create_with_context(context, config.c_str(), &instance_, error, sizeof error)
                                 : descriptor_.create(config.c_str(), &instance_, error, sizeof error);
            metrics_.open = false;
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
        check_last_export("destroy");
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
    // Breaks of the ABI's rules by the instance's own hooks (today: export_state's bytes
    // changed before the next export_state or destroy). Empty for a correct plugin.
    const std::vector<std::string> &misuse() const noexcept { return misuse_; }
    // A counter's count or a gauge's value, as declared by the name at create (ABI 1.3);
    // empty when the instance declared no such counter or gauge. May be read while
    // requests are served on other threads.
    std::optional<double> metric(std::string_view name) const {
        const detail::FakeMetric *metric = metrics_.find(name);
        if (metric == nullptr) return std::nullopt;
        const std::uint64_t value = metric->value.load(std::memory_order_relaxed);
        if (metric->kind == SOCKHOST_METRIC_COUNTER) return static_cast<double>(value);
        if (metric->kind == SOCKHOST_METRIC_GAUGE) return std::bit_cast<double>(value);
        return std::nullopt;
    }
    // A histogram declared by the name; empty when there is none.
    std::optional<HistogramValue> histogram(std::string_view name) const {
        const detail::FakeMetric *metric = metrics_.find(name);
        if (metric == nullptr || metric->kind != SOCKHOST_METRIC_HISTOGRAM) return std::nullopt;
        HistogramValue value;
        value.bounds = metric->bounds;
        for (std::size_t bucket = 0; bucket <= metric->bounds.size(); ++bucket) {
            value.buckets.push_back(metric->buckets[bucket].load(std::memory_order_relaxed));
            value.count += value.buckets.back();
        }
        value.sum = std::bit_cast<double>(metric->sum_bits.load(std::memory_order_relaxed));
        return value;
    }
    // The names of the metrics declared, in declaration order.
    std::vector<std::string> metric_names() const {
        std::vector<std::string> names;
        for (const auto &metric : metrics_.metrics) names.push_back(metric->name);
        return names;
    }

    // Whether the descriptor asks for connections to be handed over at a reload (read
    // only where its struct_size covers `handoff`, as the host reads it).
    bool hands_off_connections() const noexcept {
        return SOCKHOST_DESCRIPTOR_HAS(&descriptor_, handoff) &&
               (descriptor_.handoff & SOCKHOST_HANDOFF_CONNECTIONS) != 0;
    }

    // The old generation's side of a reload: calls export_state on this thread, as the
    // host does on the worker's main thread while requests go on elsewhere, and copies the
    // bytes. The status is empty when the descriptor has no export_state. Throws
    // std::logic_error when the instance is not ready.
    StateExport export_state() {
        if (!ready()) throw std::logic_error(origin_ + ": instance is not ready to export its state");
        StateExport result;
        if (!SOCKHOST_DESCRIPTOR_HAS(&descriptor_, export_state) || descriptor_.export_state == nullptr)
            return result;
        check_last_export("the next export_state");
        hooks_.push_back("export_state");
        const detail::LogTo log_here(&result.log);
        const void *data = nullptr;
        std::size_t length = 0;
        result.status = descriptor_.export_state(instance_, &data, &length);
        last_export_ = {};
        if (*result.status != SOCKHOST_OK) return result;
        if (data == nullptr && length > 0) {
            misuse_.push_back("export_state gave NULL data of " + std::to_string(length) + " bytes");
            result.status = SOCKHOST_ERROR;
            return result;
        }
        if (length > 0) result.state.assign(static_cast<const char *>(data), length);
        last_export_ = {data, result.state};
        return result;
    }

    // The new generation's side: calls import_state with `state`, as the host does after
    // create and process_init and before any request. The status is empty when the
    // descriptor has no import_state. Throws std::logic_error when the instance is not
    // ready or has served a request already (the host never imports then).
    StateImport import_state(std::string_view state) {
        if (!ready()) throw std::logic_error(origin_ + ": instance is not ready to import a state");
        if (served_.load())
            throw std::logic_error(origin_ + ": import_state after a request: the host imports before any");
        StateImport result;
        if (!SOCKHOST_DESCRIPTOR_HAS(&descriptor_, import_state) || descriptor_.import_state == nullptr)
            return result;
        hooks_.push_back("import_state");
        const detail::LogTo log_here(&result.log);
        const std::string bytes(state);  // the plugin's view ends with the call
        char error[1024] = "";
        result.status = descriptor_.import_state(instance_, bytes.data(), bytes.size(), error, sizeof error);
        error[sizeof error - 1] = '\0';
        result.error = error;
        return result;
    }

    // Runs verify -> setup -> handle -> finish for one request. Throws std::logic_error when
    // the instance is not ready or the plugin does not serve the input's transport (the
    // host refuses such a listener at start-up).
    RequestResult serve(const Input &input) const {
        check_servable(input);
        RequestResult result;
        detail::VirtualClock clock;
        detail::FakeRequest request;
        detail::start_request(request, input, result, clock);
        {
            const detail::LogTo log_here(&result.log);
            run_hooks(request, result);
            detail::release_user_data(request);  // as the host: after finish, a refusal or a failed setup
        }
        result.elapsed_ms = clock.now_ms();
        return result;
    }

private:
    friend struct detail::InstanceAccess;

    // What serve() refuses, as the host would never run it; marks the instance as serving.
    void check_servable(const Input &input) const {
        if (!ready()) throw std::logic_error(origin_ + ": instance is not ready to serve");
        if ((descriptor_.transports & static_cast<std::uint32_t>(input.transport)) == 0)
            throw std::logic_error(origin_ + ": plugin does not serve " +
                                   detail::transport_name(input.transport));
        if (input.hand_off_after_bytes_read && detail::is_datagram(input.transport))
            throw std::logic_error(origin_ + ": hand_off_after_bytes_read on a datagram: only a stream "
                                             "connection is handed over");
        if (input.hand_off_after_bytes_read && !hands_off_connections())
            throw std::logic_error(origin_ + ": hand_off_after_bytes_read for a plugin without "
                                             "SOCKHOST_HANDOFF_CONNECTIONS: a reload drains its "
                                             "connections instead (draining_after_bytes_read)");
        served_.store(true);
    }

    // The request's hooks in the host's order: verify, setup, handle, finish.
    void run_hooks(detail::FakeRequest &request, RequestResult &result) const {
        auto *handle = reinterpret_cast<sockhost_request *>(&request);
        auto call = [&](const char *name, auto hook) {
            result.hooks.push_back(name);
            const detail::InHook in_hook(request);
            return hook(instance_, handle);
        };
        if (descriptor_.verify != nullptr) {
            result.verify = call("verify", descriptor_.verify);
            if (!*result.verify) return;
        }
        if (descriptor_.setup != nullptr) {
            result.setup = call("setup", descriptor_.setup);
            if (*result.setup != SOCKHOST_OK) return;  // no handle, no finish
        }
        result.handle = call("handle", descriptor_.handle);
        if (descriptor_.finish != nullptr) result.finish = call("finish", descriptor_.finish);
    }

    // The ABI keeps export_state's bytes valid and unchanged until the next export_state or
    // destroy: checked just before either.
    struct LastExport {
        const void *data = nullptr;
        std::string copy;
    };
    void check_last_export(const char *before) {
        if (last_export_.copy.empty()) return;
        if (std::memcmp(last_export_.data, last_export_.copy.data(), last_export_.copy.size()) != 0)
            misuse_.push_back(std::string("export_state's bytes changed before ") + before);
        last_export_ = {};
    }

    const sockhost_plugin_descriptor &descriptor_;
    std::string origin_;
    detail::FakeInstanceContext metrics_;  // before instance_: outlives destroy
    void *instance_ = nullptr;
    bool created_ = false;
    sockhost_status create_status_ = SOCKHOST_OK;
    std::string create_error_;
    std::optional<sockhost_status> process_init_status_;
    std::vector<std::string> hooks_;
    std::vector<LogLine> log_;
    std::vector<std::string> misuse_;
    LastExport last_export_;
    mutable std::atomic<bool> served_ = false;
};

namespace detail {

// What serve_forked and serve_interleaved use of an Instance's insides.
struct InstanceAccess {
    static const sockhost_plugin_descriptor &descriptor(const Instance &i) { return i.descriptor_; }
    static void *handle(const Instance &i) { return i.instance_; }
    static void check_servable(const Instance &i, const Input &input) { i.check_servable(input); }
    static void run_hooks(const Instance &i, FakeRequest &request, RequestResult &result) {
        i.run_hooks(request, result);
    }
};

}  // namespace detail

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_INSTANCE_HPP
