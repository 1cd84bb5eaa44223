// Parsing one listener object (listener_config.cpp). Private to the config parsers.
#pragma once

#include <sockhost/host/shared/listener_config.hpp>

#include "json_object_reader.hpp"

#include <filesystem>
#include <string>

namespace sockhost {

// `path` names the object in errors ("listeners[0]"); relative Unix paths are resolved
// against `base_dir`. `implied_plugin` is set for a sidecar's listeners: `plugin` may then
// be left out, and must be that plugin if present.
Result<ListenerConfig> parse_listener(const json &object, const std::string &path, const std::filesystem::path &base_dir,
                                      const std::string &implied_plugin = {});

}  // namespace sockhost
