#include <sockhost/host/worker/plugin/host_api.hpp>
#include <sockhost/host/worker/plugin/plugin_loader.hpp>
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
    EXPECT_EQ(offsetof(sockhost_host_api, between_requests), 8u + 15 * sizeof(void *));
}

// 1.1 appended `stopping` to the host table, right after 1.0's last member.
TEST(AbiVersion, LayoutOfVersion1_1IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, stopping), 8u + 16 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_host_api), 8u + 17 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_plugin_descriptor), 32u + 7 * sizeof(void *));
}

// A plugin built against 1.1 asks the table before calling what 1.1 added: a 1.0 table
// (struct_size ending at between_requests) lacks it, the host's own table has it.
TEST(AbiVersion, HostTableMembersAreFoundBySize) {
    sockhost_host_api table{};
    table.struct_size = offsetof(sockhost_host_api, between_requests) + sizeof(void *);
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(&table, between_requests));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, stopping));
    const sockhost_host_api *host = sockhost::host_api_table();
    EXPECT_EQ(host->abi_minor, SOCKHOST_ABI_MINOR);
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(host, stopping));
    EXPECT_NE(host->stopping, nullptr);
}

// The host accepts plugins built against every older minor of its major.
TEST(AbiVersion, OlderMinorsAreAccepted) {
    for (std::uint16_t minor = 0; minor < SOCKHOST_ABI_MINOR; ++minor)
        EXPECT_TRUE(sockhost::check_abi_version(SOCKHOST_ABI_MAJOR, minor)) << "minor " << minor;
}

TEST(AbiVersion, SameVersionIsAccepted) {
    EXPECT_TRUE(sockhost::check_abi_version(SOCKHOST_ABI_MAJOR, SOCKHOST_ABI_MINOR));
}

TEST(AbiVersion, NewerMinorIsRefusedNamingBothVersions) {
    const auto result = sockhost::check_abi_version(SOCKHOST_ABI_MAJOR, SOCKHOST_ABI_MINOR + 1);
    ASSERT_FALSE(result);
    const std::string host_version = "1." + std::to_string(SOCKHOST_ABI_MINOR);
    const std::string plugin_version = "1." + std::to_string(SOCKHOST_ABI_MINOR + 1);
    EXPECT_NE(result.error().message.find("plugin ABI " + plugin_version + ", host ABI " + host_version),
              std::string::npos)
        << result.error().message;
}

TEST(AbiVersion, OtherMajorIsRefusedNamingBothVersions) {
    for (const std::uint16_t major : {0, 2}) {
        const auto result = sockhost::check_abi_version(major, 0);
        ASSERT_FALSE(result);
        EXPECT_NE(result.error().message.find("incompatible ABI major version: plugin ABI " + std::to_string(major) +
                                              ".0, host ABI 1." + std::to_string(SOCKHOST_ABI_MINOR)),
                  std::string::npos)
            << result.error().message;
    }
}

}  // namespace
