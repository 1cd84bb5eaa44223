// The http plugin's config keys and their defaults.
#ifndef SOCKHOST_EXAMPLES_HTTP_CONFIG_HPP
#define SOCKHOST_EXAMPLES_HTTP_CONFIG_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct HttpConfig {
    std::string body = "Hello from sockhost\n";          // "body": every 200 response's body
    std::string content_type = "text/plain; charset=utf-8";  // "content_type"
    std::size_t max_header_bytes = 8192;       // "max_header_bytes": request line + headers; over it: 431
    std::uint64_t max_body_bytes = 1024 * 1024;  // "max_body_bytes": Content-Length over it: 413
    // "header_timeout", seconds: a request head must arrive whole within this, from the
    // connection's start (first request) or its first byte (later ones); else 408 and close.
    std::uint64_t header_timeout_seconds = 10;
};

// Throws std::runtime_error naming the offending key.
HttpConfig parse_http_config(std::string_view config_json);

#endif  // SOCKHOST_EXAMPLES_HTTP_CONFIG_HPP
