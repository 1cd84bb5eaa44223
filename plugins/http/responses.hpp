// Every response the http plugin sends, built once at create: a request is answered by
// writing one of these buffers as it is (header and body together, one write).
#ifndef SOCKHOST_EXAMPLES_RESPONSES_HPP
#define SOCKHOST_EXAMPLES_RESPONSES_HPP

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

// What the response says about the connection.
enum class ConnectionReply {
    keep_alive,         // HTTP/1.1 default: no Connection header
    keep_alive_http10,  // "Connection: keep-alive", which an HTTP/1.0 client needs
    close,              // "Connection: close"
};

class Responses {
public:
    Responses(std::string_view body, std::string_view content_type);

    // 200 with the configured body; for HEAD the same head without the body.
    std::string_view ok(ConnectionReply connection, bool head_only) const {
        const std::string &response = ok_[index(connection)];
        return head_only ? std::string_view(response).substr(0, response.size() - body_size_)
                         : std::string_view(response);
    }
    // 405 with "Allow: GET, HEAD": the request was well formed, so keep-alive still holds.
    std::string_view method_not_allowed(ConnectionReply connection) const {
        return method_not_allowed_[index(connection)];
    }
    // These close the connection: the rest of the input cannot be trusted or is unread.
    std::string_view bad_request() const { return bad_request_; }                  // 400
    std::string_view request_timeout() const { return request_timeout_; }          // 408
    std::string_view content_too_large() const { return content_too_large_; }      // 413
    std::string_view header_fields_too_large() const { return header_fields_too_large_; }  // 431
    std::string_view not_implemented() const { return not_implemented_; }          // 501
    std::string_view version_not_supported() const { return version_not_supported_; }  // 505

private:
    static std::size_t index(ConnectionReply connection) { return static_cast<std::size_t>(connection); }

    std::size_t body_size_;
    std::array<std::string, 3> ok_;
    std::array<std::string, 3> method_not_allowed_;
    std::string bad_request_;
    std::string request_timeout_;
    std::string content_too_large_;
    std::string header_fields_too_large_;
    std::string not_implemented_;
    std::string version_not_supported_;
};

#endif  // SOCKHOST_EXAMPLES_RESPONSES_HPP
