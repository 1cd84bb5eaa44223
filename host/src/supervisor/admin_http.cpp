// The request head is parsed by Boost.Beast's request parser, fed from the buffer: it
// checks the request line, header syntax and sizes, which a hand-written parser would
// have to get right again.
#include <sockhost/host/supervisor/admin_http.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

namespace sockhost {

namespace http = boost::beast::http;

namespace {

std::string_view reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return "Error";
}

constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kExposition = "text/plain; version=0.0.4; charset=utf-8";

std::string route(const http::request_parser<http::empty_body> &parser, const AdminPages &pages) {
    const auto &request = parser.get();
    if (request.version() != 10 && request.version() != 11) return admin_response(400, kText, "HTTP/1.0 or 1.1 only\n");
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));  // Prometheus may add parameters
    const bool known = target == "/metrics" || target == "/healthz" || target == "/readyz";
    if (!known) return admin_response(404, kText, "not found (known: /metrics, /healthz, /readyz)\n");
    if (request.method() != http::verb::get) {
        std::string answer = admin_response(405, kText, "GET only\n");
        answer.insert(answer.find("\r\n") + 2, "Allow: GET\r\n");
        return answer;
    }
    if (target == "/healthz") return admin_response(200, kText, "ok\n");
    if (target == "/readyz") {
        if (pages.ready && pages.ready()) return admin_response(200, kText, "ready\n");
        return admin_response(503, kText, "not ready\n");
    }
    return admin_response(200, kExposition, pages.metrics ? pages.metrics() : std::string());
}

}  // namespace

std::string admin_response(int status, std::string_view content_type, std::string_view body) {
    std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    answer += "Content-Type: " + std::string(content_type) + "\r\n";
    answer += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    answer += "Connection: close\r\n\r\n";
    answer += body;
    return answer;
}

std::optional<std::string> answer_admin_request(std::string_view received, const AdminPages &pages) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kMaxAdminRequest));
    parser.skip(true);  // the head is all we read; a body (there should be none) is ignored
    boost::system::error_code error;
    parser.put(boost::asio::buffer(received.data(), received.size()), error);
    if (error == http::error::need_more) {
        if (received.size() >= kMaxAdminRequest) return admin_response(431, kText, "request head too large\n");
        return std::nullopt;
    }
    if (error == http::error::header_limit) return admin_response(431, kText, "request head too large\n");
    if (error || !parser.is_header_done()) return admin_response(400, kText, "malformed request\n");
    return route(parser, pages);
}

}  // namespace sockhost
