#include <sockhost/host/plugin_loader.hpp>
#include <sockhost/plugin.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace {

std::string sha256_of(const std::string &file) {
    const std::string command = "sha256sum '" + file + "'";
    FILE *pipe = ::popen(command.c_str(), "r");
    std::array<char, 65> digest{};
    if (pipe == nullptr || std::fread(digest.data(), 1, 64, pipe) != 64) digest = {};
    if (pipe != nullptr) ::pclose(pipe);
    return std::string(digest.data());
}

std::map<std::string, std::string> recorded_versions() {
    std::map<std::string, std::string> versions;
    std::ifstream record(SOCKHOST_ABI_RECORD);
    std::string line;
    while (std::getline(record, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        std::string version, digest;
        words >> version >> digest;
        versions[version] = digest;
    }
    return versions;
}

TEST(AbiVersion, HeaderChangesOnlyWithANewVersion) {
    const std::string version = std::to_string(SOCKHOST_ABI_MAJOR) + "." + std::to_string(SOCKHOST_ABI_MINOR);
    const auto versions = recorded_versions();
    ASSERT_TRUE(versions.contains(version))
        << "plugin-api/abi-history.txt has no line for ABI " << version << ": add '" << version << " "
        << sha256_of(SOCKHOST_PLUGIN_HEADER) << "'";
    EXPECT_EQ(versions.at(version), sha256_of(SOCKHOST_PLUGIN_HEADER))
        << "plugin.h changed but SOCKHOST_ABI_MAJOR/MINOR did not: bump the version (minor for members "
           "appended at the end of a struct, major otherwise) and record the new hash";
}

// The 1.0 layout, member by member: appending is allowed, moving is not.
TEST(AbiVersion, LayoutOfVersion1_0IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, struct_size), 0u);
    EXPECT_EQ(offsetof(sockhost_host_api, read), 8u);
    EXPECT_EQ(offsetof(sockhost_host_api, last_error), 8u + 14 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, struct_size), 0u);
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, name), 8u);
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, transports), 24u);
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, create), 32u);
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, finish), 32u + 6 * sizeof(void *));
}

TEST(AbiVersion, SameVersionIsAccepted) {
    EXPECT_TRUE(sockhost::check_abi_version(SOCKHOST_ABI_MAJOR, SOCKHOST_ABI_MINOR));
}

TEST(AbiVersion, NewerMinorIsRefusedNamingBothVersions) {
    const auto result = sockhost::check_abi_version(SOCKHOST_ABI_MAJOR, SOCKHOST_ABI_MINOR + 1);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("plugin ABI 1.1, host ABI 1.0"), std::string::npos) << result.error().message;
}

TEST(AbiVersion, OtherMajorIsRefusedNamingBothVersions) {
    for (const std::uint16_t major : {0, 2}) {
        const auto result = sockhost::check_abi_version(major, 0);
        ASSERT_FALSE(result);
        EXPECT_NE(result.error().message.find("incompatible ABI major version: plugin ABI " + std::to_string(major) +
                                              ".0, host ABI 1.0"),
                  std::string::npos)
            << result.error().message;
    }
}

}  // namespace
