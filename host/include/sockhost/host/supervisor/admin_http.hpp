// The admin endpoint's HTTP: one GET request head in, one whole answer out (with
// Content-Length and Connection: close). Separate from the socket handling (admin_server)
// so that it can be fuzzed and unit-tested on bytes alone.
//
//   GET /metrics   200, Prometheus text format 0.0.4
//   GET /healthz   200 "ok" while the supervisor runs
//   GET /readyz    200 while a generation serves and the host is not stopping, else 503
//   other paths    404; other methods 405; bytes that are no HTTP/1.x request head 400
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sockhost {

// What the endpoint answers from: asked only when the request needs it.
struct AdminPages {
    std::function<bool()> ready;
    std::function<std::string()> metrics;  // the exposition text
};

// A request head may be at most this big; a longer one is answered 431 (and closed).
inline constexpr std::size_t kMaxAdminRequest = 8192;

// The answer to what a client sent so far, once its request head is complete or can be
// judged bad; nullopt while more bytes are needed.
std::optional<std::string> answer_admin_request(std::string_view received, const AdminPages &pages);

// An HTTP/1.1 answer with `status`, `content_type` and `body`, closing the connection.
std::string admin_response(int status, std::string_view content_type, std::string_view body);

}  // namespace sockhost
