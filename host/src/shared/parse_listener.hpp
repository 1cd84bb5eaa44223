// Parsing one listener object (listener_config.cpp). Private to the config parsers.
#pragma once

#include <sockhost/host/shared/listener_config.hpp>
#include <sockhost/host/shared/tls_config.hpp>

#include "json_object_reader.hpp"

#include <filesystem>
#include <string>

namespace sockhost {

// `path` names the object in errors ("listeners[0]"); relative Unix paths are resolved
// against `base_dir`. `implied_plugin` is set for a sidecar's listeners: `plugin` may then
// be left out, and must be that plugin if present.
Result<ListenerConfig> parse_listener(const json &object, const std::string &path, const std::filesystem::path &base_dir,
                                      const std::string &implied_plugin = {});

// A listener's `tls` object (tls_config.cpp): paths resolved against `base_dir`, files not read.
Result<TlsConfig> parse_tls_config(const json &object, const std::string &path, const std::filesystem::path &base_dir);

}  // namespace sockhost
