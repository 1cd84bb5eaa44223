#include "http_config.hpp"

#include <sockhost/config.hpp>

#include <stdexcept>

HttpConfig parse_http_config(std::string_view config_json) {
    const sockhost::sdk::Config json(
        "http", config_json, {"body", "content_type", "max_header_bytes", "max_body_bytes", "header_timeout"});
    HttpConfig config;
    config.body = json.string("body", config.body);
    config.content_type = json.string("content_type", config.content_type);
    // It goes into a header line verbatim: no CR, LF or other control character.
    for (const char c : config.content_type)
        if (const auto byte = static_cast<unsigned char>(c); byte < 0x20 || byte == 0x7f)
            throw std::runtime_error("http config: key 'content_type' has a control character");
    config.max_header_bytes = json.unsigned_integer("max_header_bytes", config.max_header_bytes, 64, 1024 * 1024);
    config.max_body_bytes = json.unsigned_integer("max_body_bytes", config.max_body_bytes, 0, std::uint64_t{1} << 62);
    config.header_timeout_seconds = json.unsigned_integer("header_timeout", config.header_timeout_seconds, 1, 3600);
    return config;
}
