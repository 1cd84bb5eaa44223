#include <sockhost/host/worker/plugin/host_api.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/plugin/plugin_metrics.hpp>
#include <sockhost/host/worker/request.hpp>

#include <string>

namespace sockhost {

namespace {

Request &self(sockhost_request *request) { return *static_cast<Request *>(request); }
const Request &self(const sockhost_request *request) { return *static_cast<const Request *>(request); }

sockhost_status status(bool succeeded) { return succeeded ? SOCKHOST_OK : SOCKHOST_ERROR; }

// A host call that may wait: for its length the host, not the plugin, has control.
class HostCall {
public:
    explicit HostCall(Request &request) : request_(request) { request_.host_call_begins(); }
    ~HostCall() { request_.host_call_ends(); }
    HostCall(const HostCall &) = delete;
    HostCall &operator=(const HostCall &) = delete;
    Request *operator->() const { return &request_; }

private:
    Request &request_;
};

int64_t host_read(sockhost_request *request, void *buffer, size_t capacity) {
    return HostCall(self(request))->read(buffer, capacity);
}
int64_t host_read_line(sockhost_request *request, char *buffer, size_t capacity) {
    return HostCall(self(request))->read_line(buffer, capacity);
}
sockhost_status host_write(sockhost_request *request, const void *data, size_t length) {
    return status(HostCall(self(request))->write(data, length));
}
sockhost_status host_flush(sockhost_request *request) { return status(HostCall(self(request))->flush()); }

const void *host_peer_sockaddr(const sockhost_request *request, size_t *length) {
    *length = self(request).peer().length;
    return self(request).peer().get();
}
const void *host_local_sockaddr(const sockhost_request *request, size_t *length) {
    *length = self(request).local().length;
    return self(request).local().get();
}
const char *host_peer_text(const sockhost_request *request) { return self(request).peer_text().c_str(); }
const char *host_local_text(const sockhost_request *request) { return self(request).local_text().c_str(); }
sockhost_transport host_transport(const sockhost_request *request) { return to_abi(self(request).transport()); }

uint64_t host_timeout_ms(const sockhost_request *request) {
    return static_cast<uint64_t>(self(request).timeout().count());
}
void host_set_timeout_ms(sockhost_request *request, uint64_t milliseconds) {
    self(request).set_timeout(bounded_wait(milliseconds));
}
sockhost_status host_sleep_ms(sockhost_request *request, uint64_t milliseconds) {
    return status(HostCall(self(request))->sleep_ms(milliseconds));
}

void host_log(const sockhost_request *request, sockhost_log_level level, const char *message) {
    const auto clamped = static_cast<LogLevel>(level < SOCKHOST_LOG_DEBUG   ? SOCKHOST_LOG_DEBUG
                                               : level > SOCKHOST_LOG_ERROR ? SOCKHOST_LOG_ERROR
                                                                             : level);
    const std::string text = message != nullptr ? message : "(null)";
    log_line(clamped, request != nullptr ? self(request).peer_text() + ": " + text : text);
}

void host_set_error(sockhost_request *request, const char *message) {
    self(request).set_handler_error(message != nullptr ? message : "");
}
const char *host_last_error(const sockhost_request *request) { return self(request).last_error().c_str(); }
void host_between_requests(sockhost_request *request) { self(request).mark_between_requests(); }
bool host_stopping(const sockhost_request *request) { return self(request).stopping(); }
sockhost_status host_set_handoff_state(sockhost_request *request, const void *data, size_t length) {
    return status(self(request).set_handoff_state(data, length));
}
const void *host_handoff_state(const sockhost_request *request, size_t *length) {
    const auto &state = self(request).received_handoff_state();
    *length = state ? state->size() : 0;
    return state ? state->data() : nullptr;  // data() of an empty string is not null
}

uint32_t host_last_error_kind(const sockhost_request *request) {
    switch (self(request).last_failure()) {
        case Request::Failure::none: return SOCKHOST_ERROR_KIND_NONE;
        case Request::Failure::timeout: return SOCKHOST_ERROR_KIND_TIMEOUT;
        case Request::Failure::peer_gone: return SOCKHOST_ERROR_KIND_PEER_GONE;
        case Request::Failure::cancelled: return SOCKHOST_ERROR_KIND_CANCELLED;
        case Request::Failure::line_too_long: return SOCKHOST_ERROR_KIND_LINE_TOO_LONG;
        case Request::Failure::other: return SOCKHOST_ERROR_KIND_OTHER;
    }
    return SOCKHOST_ERROR_KIND_OTHER;
}
sockhost_status host_set_user_data(sockhost_request *request, void *data, sockhost_release_fn release) {
    if (request == nullptr) return SOCKHOST_ERROR;
    self(request).set_user_data(data, release);
    return SOCKHOST_OK;
}
void *host_user_data(const sockhost_request *request) {
    return request != nullptr ? self(request).user_data() : nullptr;
}
const sockhost_instance_info *host_instance_info(const sockhost_instance_context *context) {
    return context != nullptr && context->open ? &context->info : nullptr;
}

const sockhost_peer_identity *host_peer_identity(const sockhost_request *request) {
    if (request == nullptr) return &PeerIdentity::none();
    // Made on first use and kept by the request: the call is const for the plugin only.
    return &const_cast<Request &>(self(request)).peer_identity();
}

PluginMetric *metric_of(sockhost_metric *metric) { return reinterpret_cast<PluginMetric *>(metric); }

sockhost_metric *host_declare_metric(sockhost_instance_context *context, sockhost_metric_kind kind, const char *name,
                                     const char *help, const double *bounds, size_t bound_count) {
    const std::string what = std::string("declare_metric '") + (name != nullptr ? name : "(null)") + "'";
    if (context == nullptr || !context->open) {
        log_error((context != nullptr ? "plugin " + context->plugin + ": " : std::string()) + what +
                  " refused: called outside create_with_context");
        return nullptr;
    }
    auto metric = declare_plugin_metric(*context->table, context->listener, kind, name, help, bounds, bound_count);
    if (!metric) {
        log_error("plugin " + context->plugin + ": " + what + " refused: " + metric.error().message);
        return nullptr;
    }
    return reinterpret_cast<sockhost_metric *>(*metric);
}
void host_counter_add(sockhost_metric *metric, uint64_t amount) { add_to_counter(metric_of(metric), amount); }
void host_gauge_set(sockhost_metric *metric, double value) { set_gauge(metric_of(metric), value); }
void host_gauge_add(sockhost_metric *metric, double amount) { add_to_gauge(metric_of(metric), amount); }
void host_histogram_observe(sockhost_metric *metric, double value) { observe_histogram(metric_of(metric), value); }

constexpr sockhost_host_api table = {
    .struct_size = sizeof(sockhost_host_api),
    .abi_major = SOCKHOST_ABI_MAJOR,
    .abi_minor = SOCKHOST_ABI_MINOR,
    .read = host_read,
    .read_line = host_read_line,
    .write = host_write,
    .flush = host_flush,
    .peer_sockaddr = host_peer_sockaddr,
    .local_sockaddr = host_local_sockaddr,
    .peer_text = host_peer_text,
    .local_text = host_local_text,
    .transport = host_transport,
    .timeout_ms = host_timeout_ms,
    .set_timeout_ms = host_set_timeout_ms,
    .sleep_ms = host_sleep_ms,
    .log = host_log,
    .set_error = host_set_error,
    .last_error = host_last_error,
    .between_requests = host_between_requests,
    .stopping = host_stopping,
    .set_handoff_state = host_set_handoff_state,
    .handoff_state = host_handoff_state,
    .declare_metric = host_declare_metric,
    .counter_add = host_counter_add,
    .gauge_set = host_gauge_set,
    .gauge_add = host_gauge_add,
    .histogram_observe = host_histogram_observe,
    .last_error_kind = host_last_error_kind,
    .set_user_data = host_set_user_data,
    .user_data = host_user_data,
    .instance_info = host_instance_info,
    .peer_identity = host_peer_identity,
};

}  // namespace

const sockhost_host_api *host_api_table() { return &table; }

}  // namespace sockhost
