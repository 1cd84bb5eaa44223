// Config text parsed as the host parses a file at /etc/sockhost/test.json, for the
// config unit tests.
#pragma once

#include <sockhost/host/shared/config.hpp>

#include <string>

namespace sockhost::test {

inline Result<HostConfig> parse(const std::string &text) { return parse_config(text, "/etc/sockhost", "test.json"); }

// The error message, or "(accepted)".
inline std::string error_of(const std::string &text) {
    const auto result = parse(text);
    return result ? std::string("(accepted)") : result.error().message;
}

}  // namespace sockhost::test
