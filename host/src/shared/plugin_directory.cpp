#include <sockhost/host/shared/plugin_directory.hpp>

#include <algorithm>
#include <map>
#include <system_error>

namespace sockhost {

Result<PluginDirectory> scan_plugin_directory(const std::filesystem::path &dir) {
    std::error_code error;
    std::filesystem::directory_iterator entries(dir, error);
    if (error) return fail("plugin_dir " + dir.string() + ": cannot read: " + error.message());
    std::vector<std::filesystem::path> files;
    for (const auto &entry : entries) files.push_back(entry.path());
    std::sort(files.begin(), files.end());

    PluginDirectory result;
    std::map<std::string, std::filesystem::path> sidecars;
    for (const auto &file : files) {
        const std::string name = file.filename().string();
        const auto note = [&](const std::string &why) {
            result.notes.push_back("plugin_dir: ignoring " + file.string() + ": " + why);
        };
        if (name.starts_with(".")) {
            note("hidden file");
            continue;
        }
        if (name.ends_with(".so") && name.size() > 3) {
            // A directory named x.so is not a plugin; a dangling link is, and fails to load.
            if (std::filesystem::is_directory(file, error)) {
                note("a directory, not a plugin");
                continue;
            }
            result.plugins.push_back({name.substr(0, name.size() - 3), file, std::nullopt});
        } else if (name.ends_with(".json") && name.size() > 5) {
            sidecars.emplace(name.substr(0, name.size() - 5), file);
        } else {
            note("not a plugin (NAME.so) or a plugin's listeners (NAME.json)");
        }
    }
    for (auto &[plugin, sidecar] : sidecars) {
        const auto found = std::find_if(result.plugins.begin(), result.plugins.end(),
                                        [&](const PluginFile &candidate) { return candidate.name == plugin; });
        if (found == result.plugins.end()) {
            result.notes.push_back("plugin_dir: ignoring " + sidecar.string() + ": no plugin " + plugin + ".so beside it");
            continue;
        }
        found->sidecar = sidecar;
    }
    return result;
}

}  // namespace sockhost
