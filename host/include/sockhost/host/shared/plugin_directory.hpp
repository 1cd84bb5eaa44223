// The drop-in plugin directory: every NAME.so is a plugin, an optional NAME.json beside it
// declares that plugin's listeners. Anything else is ignored with a note, not an error.
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sockhost {

struct PluginFile {
    std::string name;                              // NAME of NAME.so
    std::filesystem::path file;                    // DIR/NAME.so
    std::optional<std::filesystem::path> sidecar;  // DIR/NAME.json, if present
};

struct PluginDirectory {
    std::vector<PluginFile> plugins;  // sorted by name
    std::vector<std::string> notes;   // one line per ignored file, for the log
};

// Hidden files (".NAME.so.tmp" while a plugin is being installed) are ignored too.
Result<PluginDirectory> scan_plugin_directory(const std::filesystem::path &dir);

}  // namespace sockhost
