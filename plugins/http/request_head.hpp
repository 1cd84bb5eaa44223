// Parsing an HTTP/1.x request head (request line and header fields) in place: no copy, no
// allocation. Only what the responder needs is kept.
#ifndef SOCKHOST_EXAMPLES_REQUEST_HEAD_HPP
#define SOCKHOST_EXAMPLES_REQUEST_HEAD_HPP

#include <cstdint>
#include <string_view>

enum class Method { get, head, other };

struct RequestHead {
    Method method = Method::other;
    bool http10 = false;      // HTTP/1.0 (no keep-alive unless asked for)
    bool keep_alive = true;   // after Connection and the version's default
    std::uint64_t content_length = 0;
};

enum class HeadProblem {
    none,
    malformed,               // 400: bad request line, header line or Content-Length
    version_not_supported,   // 505: HTTP/2.0 and other majors than 1
    transfer_coding,         // 501: any Transfer-Encoding (see request_head.cpp)
};

// `head` runs from the request line through the blank line that ends the head; lines end
// in "\r\n" or "\n" (RFC 9112 section 2.2 lets a recipient accept a bare LF).
HeadProblem parse_request_head(std::string_view head, RequestHead &parsed);

#endif  // SOCKHOST_EXAMPLES_REQUEST_HEAD_HPP
