#include <sockhost/host/shared/plugin_file_identity.hpp>

#include <sys/stat.h>

namespace sockhost {

Result<PluginFileIdentity> identify_plugin_file(const std::string &name, const std::filesystem::path &file) {
    struct stat status {};
    if (::stat(file.c_str(), &status) != 0) return fail_errno("plugin " + file.string());
    return PluginFileIdentity{name, static_cast<std::uint64_t>(status.st_dev), static_cast<std::uint64_t>(status.st_ino),
                              static_cast<std::int64_t>(status.st_size),
                              static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1'000'000'000 + status.st_mtim.tv_nsec};
}

std::string plugin_file_change(const PluginFileIdentity &was, const PluginFileIdentity &now) {
    if (was.device != now.device || was.inode != now.inode) return "replaced by another file (a new inode)";
    if (was.size != now.size)
        return "rewritten in place (" + std::to_string(was.size) + " bytes then, " + std::to_string(now.size) + " now)";
    if (was.modified_ns != now.modified_ns) return "rewritten in place (modified since)";
    return {};
}

const PluginFileIdentity *find_identity(const std::vector<PluginFileIdentity> &files, const std::string &name) {
    for (const auto &file : files)
        if (file.name == name) return &file;
    return nullptr;
}

}  // namespace sockhost
