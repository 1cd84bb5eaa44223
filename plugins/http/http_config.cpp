#include "http_config.hpp"

#include "plugin_config.hpp"

#include <stdexcept>

HttpConfig parse_http_config(std::string_view config_json) {
    const auto json = plugin_config::parse(
        "http", config_json, {"body", "content_type", "max_header_bytes", "max_body_bytes", "header_timeout"});
    HttpConfig config;
    config.body = plugin_config::string_value("http", json, "body", config.body);
    config.content_type = plugin_config::string_value("http", json, "content_type", config.content_type);
    // It goes into a header line verbatim: no CR, LF or other control character.
    for (const char c : config.content_type)
        if (const auto byte = static_cast<unsigned char>(c); byte < 0x20 || byte == 0x7f)
            throw std::runtime_error("http config: key 'content_type' has a control character");
    config.max_header_bytes = plugin_config::unsigned_value(
        "http", json, "max_header_bytes", config.max_header_bytes, 64, 1024 * 1024);
    config.max_body_bytes = plugin_config::unsigned_value(
        "http", json, "max_body_bytes", config.max_body_bytes, 0, std::uint64_t{1} << 62);
    config.header_timeout_seconds = plugin_config::unsigned_value(
        "http", json, "header_timeout", config.header_timeout_seconds, 1, 3600);
    return config;
}
