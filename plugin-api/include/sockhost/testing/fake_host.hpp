// The harness's host function table: sockhost_host_api over in-memory requests, checking
// that each request function is called from its hook, on its thread.
#ifndef SOCKHOST_TESTING_FAKE_HOST_HPP
#define SOCKHOST_TESTING_FAKE_HOST_HPP

#include <sockhost/metric_check.hpp>
#include <sockhost/plugin.h>
#include <sockhost/testing/fake_metrics.hpp>
#include <sockhost/testing/fake_request.hpp>
#include <sockhost/testing/input.hpp>
#include <sockhost/testing/log_capture.hpp>
#include <sockhost/testing/results.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sockhost::sdk::testing {

namespace detail {

// The host function table, over FakeRequest.
struct FakeHost {
    // Records a call made outside the hook that owns the request; false when misused.
    static bool allowed(const FakeRequest &request, const char *function) {
        if (request.in_hook && request.hook_thread == std::this_thread::get_id()) return true;
        request.result->misuse.push_back(std::string(function) +
                                         " called outside its request's hook or thread");
        return false;
    }

    // The request behind `handle` when `function` may read into `buffer` now; null, with
    // the misuse or the error recorded, otherwise.
    static FakeRequest *reader_of(sockhost_request *handle, const void *buffer, std::size_t capacity,
                                  const char *function) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, function)) return nullptr;
        if (capacity == 0 || buffer == nullptr) {
            fail(request, SOCKHOST_ERROR_KIND_OTHER, std::string(function) + " with no buffer");
            return nullptr;
        }
        return &request;
    }

    enum class Wait { arrived, no_more_turns, timed_out };

    // A read that finds nothing more buffered: waits (in virtual time) for the input's next
    // turn, unless it is due later than the request's timeout allows (then the read fails,
    // as the host's would, and the turn stays due).
    static Wait wait_for_turn(FakeRequest &request) {
        const std::vector<Turn> &turns = request.input->turns;
        if (request.next_turn >= turns.size()) return Wait::no_more_turns;
        VirtualClock &clock = *request.clock;
        const std::uint64_t timeout = request.result->timeout_ms;
        if (timeout != 0 && request.turn_due_ms > clock.now_ms() + timeout) {
            clock.wait_until(clock.now_ms() + timeout);
            fail(request, SOCKHOST_ERROR_KIND_TIMEOUT, "read timed out after " + std::to_string(timeout) + " ms");
            return Wait::timed_out;
        }
        clock.wait_until(request.turn_due_ms);
        request.received += turns[request.next_turn].bytes;
        if (++request.next_turn < turns.size()) request.turn_due_ms += turns[request.next_turn].after_ms;
        return Wait::arrived;
    }

    static std::int64_t read(sockhost_request *handle, void *buffer, std::size_t capacity) {
        FakeRequest *reader = reader_of(handle, buffer, capacity, "read");
        if (reader == nullptr) return -1;
        FakeRequest &request = *reader;
        if (handed_off(request)) return 0;
        const std::string &bytes = request.received;
        while (request.position == bytes.size()) {
            const Wait wait = wait_for_turn(request);
            if (wait == Wait::arrived) continue;
            if (wait == Wait::timed_out) return -1;
            if (request.input->read_error) {
                fail(request, request.input->read_error_kind, *request.input->read_error);
                return -1;
            }
            return 0;
        }
        std::size_t count = std::min(capacity, bytes.size() - request.position);
        if (request.input->max_read_bytes != 0) count = std::min(count, request.input->max_read_bytes);
        std::memcpy(buffer, bytes.data() + request.position, count);
        request.position += count;
        request.result->bytes_read += count;
        return static_cast<std::int64_t>(count);
    }

    static std::int64_t read_line(sockhost_request *handle, char *buffer, std::size_t capacity) {
        FakeRequest *reader = reader_of(handle, buffer, capacity, "read_line");
        if (reader == nullptr) return -1;
        FakeRequest &request = *reader;
        if (handed_off(request)) {
            buffer[0] = '\0';
            return 0;
        }
        const std::string &bytes = request.received;
        std::size_t newline = bytes.find('\n', request.position);
        std::size_t length = 0;
        for (;;) {
            length = newline == std::string::npos ? bytes.size() - request.position : newline - request.position + 1;
            if (newline != std::string::npos || length > capacity - 1) break;
            const Wait wait = wait_for_turn(request);  // for the rest of the line
            if (wait == Wait::timed_out) return -1;
            if (wait == Wait::arrived) {
                newline = bytes.find('\n', request.position);
                continue;
            }
            if (request.input->read_error) {
                // The line never ends: the wait for the rest of it fails.
                fail(request, request.input->read_error_kind, *request.input->read_error);
                return -1;
            }
            break;  // end of input: the last line as it is
        }
        if (length > capacity - 1) {
            // As the host does: nothing consumed, so the plugin may read it in pieces.
            fail(request, SOCKHOST_ERROR_KIND_LINE_TOO_LONG,
                 "read_line: line longer than " + std::to_string(capacity - 1) + " bytes");
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
            fail(request, request.input->write_error_kind, *request.input->write_error);
            return SOCKHOST_ERROR;
        }
        if (length > 0 && data == nullptr) {
            fail(request, SOCKHOST_ERROR_KIND_OTHER, "write of NULL data");
            return SOCKHOST_ERROR;
        }
        if (handed_off(request)) return SOCKHOST_OK;  // the connection is the next generation's
        request.result->output.append(static_cast<const char *>(data), length);
        auto &timed = request.result->output_at;
        const std::uint64_t now = request.clock->now_ms();
        if (timed.empty() || timed.back().at_ms != now) timed.push_back({now, {}});
        timed.back().bytes.append(static_cast<const char *>(data), length);
        request.result->unflushed_bytes += length;
        ++request.result->write_count;
        return SOCKHOST_OK;
    }

    static sockhost_status flush(sockhost_request *handle) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "flush")) return SOCKHOST_ERROR;
        if (is_datagram(request.input->transport)) return SOCKHOST_OK;  // the reply goes at finish
        if (request.input->write_error) {
            fail(request, request.input->write_error_kind, *request.input->write_error);
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
        request.result->sleeps_ms.push_back(milliseconds);  // in virtual time: nothing waits
        if (request.input->stopping) {
            fail(request, SOCKHOST_ERROR_KIND_CANCELLED, "the host is stopping the request");
            return SOCKHOST_ERROR;
        }
        request.clock->wait_until(request.clock->now_ms() + milliseconds);
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
        if (!allowed(request, "between_requests")) return;
        RequestResult &result = *request.result;
        result.between_requests_at.push_back(result.bytes_read);
        const auto &hand_off_after = request.input->hand_off_after_bytes_read;
        if (hand_off_after && !result.handed_off && result.bytes_read >= *hand_off_after) {
            result.handed_off = true;
            result.handed_off_bytes = request.received.substr(request.position);
            for (std::size_t turn = request.next_turn; turn < request.input->turns.size(); ++turn)
                result.handed_off_bytes += request.input->turns[turn].bytes;
        }
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

    static sockhost_status set_handoff_state(sockhost_request *handle, const void *data, std::size_t length) {
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "set_handoff_state")) return SOCKHOST_ERROR;
        if (is_datagram(request.input->transport)) {
            fail(request, SOCKHOST_ERROR_KIND_OTHER, "set_handoff_state: a datagram has no connection to hand over");
            return SOCKHOST_ERROR;
        }
        if (length > SOCKHOST_HANDOFF_STATE_MAX) {
            fail(request, SOCKHOST_ERROR_KIND_OTHER,
                 "set_handoff_state: " + std::to_string(length) + " bytes, more than " +
                     std::to_string(SOCKHOST_HANDOFF_STATE_MAX));
            return SOCKHOST_ERROR;
        }
        if (length > 0 && data == nullptr) {
            fail(request, SOCKHOST_ERROR_KIND_OTHER, "set_handoff_state of NULL data");
            return SOCKHOST_ERROR;
        }
        request.result->handoff_state.assign(static_cast<const char *>(data), length);
        request.result->handoff_state_set_at.push_back(request.result->bytes_read);
        return SOCKHOST_OK;
    }

    static const void *handoff_state(const sockhost_request *handle, std::size_t *length) {
        const FakeRequest &request = unwrap(handle);
        const auto &state = request.input->handed_over_state;
        const bool given = allowed(request, "handoff_state") && state.has_value();
        if (length != nullptr) *length = given ? state->size() : 0;
        return given ? state->data() : nullptr;
    }

    static sockhost_metric *declare_metric(sockhost_instance_context *handle, sockhost_metric_kind kind,
                                           const char *name, const char *help, const double *bounds,
                                           std::size_t bound_count) {
        auto *context = reinterpret_cast<FakeInstanceContext *>(handle);
        const std::string what = std::string("declare_metric '") + (name != nullptr ? name : "(null)") + "' refused: ";
        std::string problem = ::sockhost::metric_declaration_problem(kind, name, help, bounds, bound_count);
        if (problem.empty() && (context == nullptr || !context->open)) problem = "called outside create_with_context";
        if (problem.empty()) {
            if (const FakeMetric *known = context->find(name)) {
                if (known->kind == kind && known->help == help &&
                    known->bounds == std::vector<double>(bounds, bounds + bound_count))
                    return reinterpret_cast<sockhost_metric *>(const_cast<FakeMetric *>(known));
                problem = "declared already with another kind, help or bounds";
            }
        }
        if (!problem.empty()) {
            log(nullptr, SOCKHOST_LOG_ERROR, (what + problem).c_str());
            return nullptr;
        }
        auto metric = std::make_unique<FakeMetric>();
        metric->kind = kind;
        metric->name = name;
        metric->help = help;
        metric->bounds.assign(bounds, bounds + bound_count);
        context->metrics.push_back(std::move(metric));
        return reinterpret_cast<sockhost_metric *>(context->metrics.back().get());
    }
    static FakeMetric *metric_of(sockhost_metric *handle, sockhost_metric_kind kind) {
        auto *metric = reinterpret_cast<FakeMetric *>(handle);
        return metric != nullptr && metric->kind == kind ? metric : nullptr;
    }
    static void counter_add(sockhost_metric *handle, std::uint64_t amount) {
        if (FakeMetric *metric = metric_of(handle, SOCKHOST_METRIC_COUNTER))
            metric->value.fetch_add(amount, std::memory_order_relaxed);
    }
    static void gauge_set(sockhost_metric *handle, double value) {
        if (FakeMetric *metric = metric_of(handle, SOCKHOST_METRIC_GAUGE))
            metric->value.store(std::bit_cast<std::uint64_t>(value), std::memory_order_relaxed);
    }
    static void gauge_add(sockhost_metric *handle, double amount) {
        if (FakeMetric *metric = metric_of(handle, SOCKHOST_METRIC_GAUGE)) add_double(metric->value, amount);
    }
    static void histogram_observe(sockhost_metric *handle, double value) {
        FakeMetric *metric = metric_of(handle, SOCKHOST_METRIC_HISTOGRAM);
        if (metric == nullptr || std::isnan(value)) return;
        std::size_t bucket = 0;
        while (bucket < metric->bounds.size() && value > metric->bounds[bucket]) ++bucket;
        metric->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
        add_double(metric->sum_bits, value);
    }

    static std::uint32_t last_error_kind(const sockhost_request *handle) {
        return unwrap(handle).last_error_kind;
    }
    static sockhost_status set_user_data(sockhost_request *handle, void *data, sockhost_release_fn release) {
        if (handle == nullptr) return SOCKHOST_ERROR;
        FakeRequest &request = unwrap(handle);
        if (!allowed(request, "set_user_data")) return SOCKHOST_ERROR;
        if (data != request.user_data) release_user_data(request);
        request.user_data = data;
        request.release_user_data = release;
        return SOCKHOST_OK;
    }
    static void *user_data(const sockhost_request *handle) {
        if (handle == nullptr) return nullptr;
        const FakeRequest &request = unwrap(handle);
        return allowed(request, "user_data") ? request.user_data : nullptr;
    }
    static const sockhost_instance_info *instance_info(const sockhost_instance_context *handle) {
        const auto *context = reinterpret_cast<const FakeInstanceContext *>(handle);
        return context != nullptr && context->open ? &context->info : nullptr;
    }

    static const sockhost_peer_identity *peer_identity(const sockhost_request *handle) {
        if (handle == nullptr) return nullptr;
        FakeRequest &request = const_cast<FakeRequest &>(unwrap(handle));
        if (!allowed(request, "peer_identity")) return nullptr;
        if (request.identity_made) return &request.identity;
        request.identity_made = true;
        sockhost_peer_identity &identity = request.identity;
        const Input &input = *request.input;
        identity.struct_size = sizeof identity;
        identity.uid = identity.gid = identity.pid = -1;
        identity.subject = identity.verify_error = identity.alpn = identity.server_name = identity.tls_version =
            identity.tls_cipher = "";
        if (input.credentials) {
            identity.flags |= SOCKHOST_PEER_CREDENTIALS;
            identity.uid = input.credentials->uid;
            identity.gid = input.credentials->gid;
            identity.pid = input.credentials->pid;
        }
        if (const auto &tls = input.tls) {
            identity.flags |= SOCKHOST_PEER_TLS | (tls->presented_certificate ? SOCKHOST_PEER_CERTIFICATE : 0u) |
                              (tls->verified ? SOCKHOST_PEER_VERIFIED : 0u) | (tls->resumed ? SOCKHOST_PEER_RESUMED : 0u);
            identity.subject = tls->subject.c_str();
            for (const auto &name : tls->alt_names) request.alt_names.push_back(name.c_str());
            identity.alt_name_count = tls->alt_names.size();
            identity.verify_error = tls->verify_error.c_str();
            identity.alpn = tls->alpn.c_str();
            identity.server_name = tls->server_name.c_str();
            identity.tls_version = tls->version.c_str();
            identity.tls_cipher = tls->cipher.c_str();
        }
        request.alt_names.push_back(nullptr);
        identity.alt_names = request.alt_names.data();
        return &identity;
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
            value.set_handoff_state = &set_handoff_state;
            value.handoff_state = &handoff_state;
            value.declare_metric = &declare_metric;
            value.counter_add = &counter_add;
            value.gauge_set = &gauge_set;
            value.gauge_add = &gauge_add;
            value.histogram_observe = &histogram_observe;
            value.last_error_kind = &last_error_kind;
            value.set_user_data = &set_user_data;
            value.user_data = &user_data;
            value.instance_info = &instance_info;
            value.peer_identity = &peer_identity;
            return value;
        }();
        return api;
    }
};

}  // namespace detail

// The host table the harness gives plugins (useful to call a plugin's entry by hand).
inline const sockhost_host_api &host_api() { return detail::FakeHost::table(); }

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_FAKE_HOST_HPP
