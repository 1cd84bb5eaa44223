// What a plugin file was when the supervisor read the configuration of a generation. A
// worker of that generation started later (a replacement after a crash) must load that
// same file: one copied over in place, or renamed over, is another plugin, which only a
// reload may bring in. And when a worker crashes, the supervisor can say that the file
// under its mapped code changed (copying over a loaded .so is the usual cause of SIGBUS).
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sockhost {

struct PluginFileIdentity {
    std::string name;  // NAME of NAME.so
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t modified_ns = 0;  // mtime, in ns since the epoch
};

Result<PluginFileIdentity> identify_plugin_file(const std::string &name, const std::filesystem::path &file);

// "" when `now` is the file `was` describes; else how it changed ("replaced by another
// file", "rewritten in place", with what differs).
std::string plugin_file_change(const PluginFileIdentity &was, const PluginFileIdentity &now);

// The identity recorded for `name` in `files`, or nullptr.
const PluginFileIdentity *find_identity(const std::vector<PluginFileIdentity> &files, const std::string &name);

}  // namespace sockhost
