#include "abi_fingerprint.hpp"

#include <sockhost/descriptor_check.hpp>
#include <sockhost/host/shared/worker_metrics.hpp>
#include <sockhost/host/worker/plugin/host_api.hpp>
#include <sockhost/host/worker/plugin/plugin_loader.hpp>
#include <sockhost/plugin.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using sockhost::test::abi_fingerprint_of;
using sockhost::test::file_text;

// plugin-api/abi-history.txt. "VERSION SHA256" lines hash plugin.h byte for byte, as it
// was up to ABI 1.1; they are history and checked for form only. "VERSION declarations
// SHA256" lines hold the fingerprint that is checked (abi_fingerprint.hpp).
struct AbiRecord {
    std::map<std::string, std::string> declarations;  // version -> fingerprint
    std::vector<std::string> malformed;                // lines of neither form, or repeated
};

bool is_sha256(const std::string &word) {
    return word.size() == 64 && word.find_first_not_of("0123456789abcdef") == std::string::npos;
}

AbiRecord read_abi_record() {
    AbiRecord record;
    std::ifstream file(SOCKHOST_ABI_RECORD);
    std::string line;
    while (std::getline(file, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        std::string version, second, third, extra;
        words >> version >> second >> third >> extra;
        const bool whole_file_hash = is_sha256(second) && third.empty();
        const bool declarations_hash = second == "declarations" && is_sha256(third) && extra.empty() &&
                                       record.declarations.emplace(version, third).second;
        if (!whole_file_hash && !declarations_hash) record.malformed.push_back(line);
    }
    return record;
}

TEST(AbiVersion, HistoryLinesAreWellFormed) {
    const AbiRecord record = read_abi_record();
    EXPECT_FALSE(record.declarations.empty()) << "no record read from " << SOCKHOST_ABI_RECORD;
    for (const std::string &line : record.malformed)
        ADD_FAILURE() << SOCKHOST_ABI_RECORD << ": not 'VERSION SHA256' nor 'VERSION declarations SHA256', "
                      << "or a version's second declarations line: " << line;
}

TEST(AbiVersion, HeaderChangesOnlyWithANewVersion) {
    const std::string version = std::to_string(SOCKHOST_ABI_MAJOR) + "." + std::to_string(SOCKHOST_ABI_MINOR);
    const std::string fingerprint = abi_fingerprint_of(file_text(SOCKHOST_PLUGIN_HEADER));
    ASSERT_EQ(fingerprint.size(), 64u) << "sha256sum did not run on " << SOCKHOST_PLUGIN_HEADER;
    const auto declarations = read_abi_record().declarations;
    ASSERT_TRUE(declarations.contains(version))
        << "plugin-api/abi-history.txt has no declarations line for ABI " << version << ": add '" << version
        << " declarations " << fingerprint << "'";
    EXPECT_EQ(declarations.at(version), fingerprint)
        << "plugin.h's declarations changed but SOCKHOST_ABI_MAJOR/MINOR did not: bump the version (minor for "
           "members appended at the end of a struct, major otherwise) and add its declarations line";
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

// 1.1 appended `stopping` to the host table, right after 1.0's last member; the
// descriptor did not change (it ends at `finish`, as in 1.0).
TEST(AbiVersion, LayoutOfVersion1_1IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, stopping), 8u + 16 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, stopping) + sizeof(void *), 8u + 17 * sizeof(void *));
    EXPECT_EQ(sockhost::kDescriptorSizeV1_0, 32u + 7 * sizeof(void *));
}

// 1.2 appended `set_handoff_state` and `handoff_state` to the host table, right after
// 1.1's last member (`stopping`), and `handoff`, `export_state` and `import_state` to the
// descriptor, right after `finish`.
TEST(AbiVersion, LayoutOfVersion1_2IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, set_handoff_state), 8u + 17 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, handoff_state), 8u + 18 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, handoff), 32u + 7 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, export_state), 32u + 8 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, import_state), 32u + 9 * sizeof(void *));
    EXPECT_EQ(SOCKHOST_HANDOFF_CONNECTIONS, 1u);
    EXPECT_EQ(SOCKHOST_HANDOFF_STATE_MAX, 16384);
}

// 1.3 appended declare_metric and the four updates to the host table, right after 1.2's
// last member (`handoff_state`), and create_with_context to the descriptor, right after
// `import_state`.
TEST(AbiVersion, LayoutOfVersion1_3IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, declare_metric), 8u + 19 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, counter_add), 8u + 20 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, gauge_set), 8u + 21 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, gauge_add), 8u + 22 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, histogram_observe), 8u + 23 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, histogram_observe) + sizeof(void *), 8u + 24 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_plugin_descriptor, create_with_context), 32u + 10 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_plugin_descriptor), 32u + 11 * sizeof(void *));
    EXPECT_EQ(SOCKHOST_METRIC_COUNTER, 1);
    EXPECT_EQ(SOCKHOST_METRIC_GAUGE, 2);
    EXPECT_EQ(SOCKHOST_METRIC_HISTOGRAM, 3);
    EXPECT_EQ(SOCKHOST_METRIC_NAME_MAX + 1, static_cast<int>(sockhost::PluginMetric::kNameCapacity));
    EXPECT_EQ(SOCKHOST_METRIC_HELP_MAX + 1, static_cast<int>(sockhost::PluginMetric::kHelpCapacity));
    EXPECT_EQ(SOCKHOST_METRIC_BOUNDS_MAX, static_cast<int>(sockhost::PluginMetric::kMaxBounds));
    const sockhost_host_api *host = sockhost::host_api_table();
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(host, histogram_observe));
    for (const void *member : {(const void *)host->declare_metric, (const void *)host->counter_add,
                               (const void *)host->gauge_set, (const void *)host->gauge_add,
                               (const void *)host->histogram_observe})
        EXPECT_NE(member, nullptr);
}

// 1.4 appended last_error_kind, set_user_data, user_data and instance_info to the host
// table, right after 1.3's last member (`histogram_observe`); the descriptor is 1.3's.
TEST(AbiVersion, LayoutOfVersion1_4IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, last_error_kind), 8u + 24 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, set_user_data), 8u + 25 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, user_data), 8u + 26 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, instance_info), 8u + 27 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_host_api, instance_info) + sizeof(void *), 8u + 28 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_plugin_descriptor), 32u + 11 * sizeof(void *));
    EXPECT_EQ(SOCKHOST_ERROR_KIND_NONE, 0u);
    EXPECT_EQ(SOCKHOST_ERROR_KIND_TIMEOUT, 1u);
    EXPECT_EQ(SOCKHOST_ERROR_KIND_PEER_GONE, 2u);
    EXPECT_EQ(SOCKHOST_ERROR_KIND_CANCELLED, 3u);
    EXPECT_EQ(SOCKHOST_ERROR_KIND_LINE_TOO_LONG, 4u);
    EXPECT_EQ(SOCKHOST_ERROR_KIND_OTHER, 5u);
    EXPECT_EQ(SOCKHOST_MODE_SYNC, 1u);
    EXPECT_EQ(SOCKHOST_MODE_THREADING, 2u);
    EXPECT_EQ(SOCKHOST_MODE_FORKING, 3u);
    EXPECT_EQ(SOCKHOST_MODE_EVENT, 4u);
    EXPECT_EQ(offsetof(sockhost_instance_info, struct_size), 0u);
    EXPECT_EQ(offsetof(sockhost_instance_info, transport), 4u);
    EXPECT_EQ(offsetof(sockhost_instance_info, mode), 8u);
    EXPECT_EQ(offsetof(sockhost_instance_info, worker_index), 12u);
    EXPECT_EQ(offsetof(sockhost_instance_info, generation), 16u);
    EXPECT_EQ(offsetof(sockhost_instance_info, listener_name), 24u);
    EXPECT_EQ(offsetof(sockhost_instance_info, address), 24u + sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_instance_info), 24u + 2 * sizeof(void *));
    const sockhost_host_api *host = sockhost::host_api_table();
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(host, instance_info));
    for (const void *member : {(const void *)host->last_error_kind, (const void *)host->set_user_data,
                               (const void *)host->user_data, (const void *)host->instance_info})
        EXPECT_NE(member, nullptr);
}

// 1.5 appended peer_identity to the host table, right after 1.4's last member
// (`instance_info`); the descriptor is 1.3's.
TEST(AbiVersion, LayoutOfVersion1_5IsFrozen) {
    EXPECT_EQ(offsetof(sockhost_host_api, peer_identity), 8u + 28 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_host_api), 8u + 29 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_plugin_descriptor), 32u + 11 * sizeof(void *));
    EXPECT_EQ(SOCKHOST_PEER_TLS, 1u);
    EXPECT_EQ(SOCKHOST_PEER_CERTIFICATE, 2u);
    EXPECT_EQ(SOCKHOST_PEER_VERIFIED, 4u);
    EXPECT_EQ(SOCKHOST_PEER_CREDENTIALS, 8u);
    EXPECT_EQ(SOCKHOST_PEER_RESUMED, 16u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, struct_size), 0u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, flags), 4u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, uid), 8u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, gid), 16u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, pid), 24u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, subject), 32u);
    EXPECT_EQ(offsetof(sockhost_peer_identity, alt_names), 32u + sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_peer_identity, alt_name_count), 32u + 2 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_peer_identity, verify_error), 32u + 3 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_peer_identity, alpn), 32u + 4 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_peer_identity, server_name), 32u + 5 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_peer_identity, tls_version), 32u + 6 * sizeof(void *));
    EXPECT_EQ(offsetof(sockhost_peer_identity, tls_cipher), 32u + 7 * sizeof(void *));
    EXPECT_EQ(sizeof(sockhost_peer_identity), 32u + 8 * sizeof(void *));
    const sockhost_host_api *host = sockhost::host_api_table();
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(host, peer_identity));
    EXPECT_NE(host->peer_identity, nullptr);
    const sockhost_peer_identity *none = host->peer_identity(nullptr);
    ASSERT_NE(none, nullptr);
    EXPECT_EQ(none->flags, 0u);
    EXPECT_EQ(none->uid, -1);
    EXPECT_STREQ(none->subject, "");
}

// A plugin asks the table before calling what a later minor added: a 1.0 table (ending at
// between_requests) lacks `stopping` and 1.2's members, a 1.1 table (ending at
// `stopping`) lacks 1.2's, the host's own table has them all.
TEST(AbiVersion, HostTableMembersAreFoundBySize) {
    sockhost_host_api table{};
    table.struct_size = offsetof(sockhost_host_api, between_requests) + sizeof(void *);
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(&table, between_requests));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, stopping));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, set_handoff_state));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, handoff_state));

    table.struct_size = offsetof(sockhost_host_api, stopping) + sizeof(void *);
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(&table, stopping));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, set_handoff_state));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, handoff_state));

    table.struct_size = offsetof(sockhost_host_api, handoff_state);  // one member short
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(&table, set_handoff_state));
    EXPECT_FALSE(SOCKHOST_HOST_API_HAS(&table, handoff_state));

    const sockhost_host_api *host = sockhost::host_api_table();
    EXPECT_EQ(host->abi_minor, SOCKHOST_ABI_MINOR);
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(host, stopping));
    EXPECT_NE(host->stopping, nullptr);
    EXPECT_TRUE(SOCKHOST_HOST_API_HAS(host, handoff_state));
    EXPECT_NE(host->set_handoff_state, nullptr);
    EXPECT_NE(host->handoff_state, nullptr);
}

// The host reads the descriptor's 1.2 members only when struct_size covers them: a
// descriptor built against 1.0 or 1.1 ends at `finish`.
TEST(AbiVersion, DescriptorMembersAreFoundBySize) {
    sockhost_plugin_descriptor descriptor{};
    descriptor.struct_size = sockhost::kDescriptorSizeV1_0;
    EXPECT_TRUE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, finish));
    EXPECT_FALSE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, handoff));
    EXPECT_FALSE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, export_state));
    EXPECT_FALSE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, import_state));

    descriptor.struct_size = offsetof(sockhost_plugin_descriptor, export_state);
    EXPECT_TRUE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, handoff));
    EXPECT_FALSE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, export_state));

    descriptor.struct_size = sizeof descriptor;
    EXPECT_TRUE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, handoff));
    EXPECT_TRUE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, export_state));
    EXPECT_TRUE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, import_state));
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
