// Plugins built against ABI 1.0, 1.1 and 1.2 keep loading on a newer host: their
// descriptors end at `finish` or (1.2) `import_state` (tests/plugins/frozen_abi_descriptor.c),
// and what later versions appended is read only when struct_size covers it.
#include <sockhost/descriptor_check.hpp>
#include <sockhost/host/worker/plugin/plugin_loader.hpp>
#include <sockhost/plugin.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace {

std::filesystem::path frozen_plugin(int minor) {
    return std::filesystem::path(SOCKHOST_TEST_PLUGIN_DIR) / ("frozen_abi_1_" + std::to_string(minor) + ".so");
}

class OlderAbiPlugin : public ::testing::TestWithParam<int> {};

TEST_P(OlderAbiPlugin, LoadsWithItsOwnSmallerDescriptor) {
    const int minor = GetParam();
    // The build tree's modes are not the point here (plugin_file_check_test covers them).
    const auto loaded = sockhost::LoadedPlugin::load(frozen_plugin(minor), /*strict_modes=*/false);
    ASSERT_TRUE(loaded) << loaded.error().message;
    const sockhost_plugin_descriptor &descriptor = (*loaded)->descriptor();
    EXPECT_EQ(descriptor.abi_major, 1);
    EXPECT_EQ(descriptor.abi_minor, minor);
    EXPECT_EQ(descriptor.struct_size,
              minor < 2 ? sockhost::kDescriptorSizeV1_0 : offsetof(sockhost_plugin_descriptor, create_with_context));
    EXPECT_EQ((*loaded)->name(), "frozen_abi_1_" + std::to_string(minor));
    EXPECT_TRUE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, handle));
    EXPECT_EQ(SOCKHOST_DESCRIPTOR_HAS(&descriptor, handoff), minor >= 2);
    EXPECT_EQ(SOCKHOST_DESCRIPTOR_HAS(&descriptor, export_state), minor >= 2);
    EXPECT_EQ(SOCKHOST_DESCRIPTOR_HAS(&descriptor, import_state), minor >= 2);
    EXPECT_FALSE(SOCKHOST_DESCRIPTOR_HAS(&descriptor, create_with_context));

    const auto handler = sockhost::PluginHandler::create(*loaded, "{}");
    ASSERT_TRUE(handler) << handler.error().message;
    EXPECT_TRUE((*handler)->supports(sockhost::Transport::tcp));
}

// The fixture is worth its name only if a host that ignored struct_size would be misled:
// past the descriptor's end lie an opt-in to connection handoff and state hooks (1.0, 1.1)
// and a failing create_with_context (all).
TEST_P(OlderAbiPlugin, HoldsBaitPastItsDescriptorForAHostThatReadsTooFar) {
    const auto loaded = sockhost::LoadedPlugin::load(frozen_plugin(GetParam()), /*strict_modes=*/false);
    ASSERT_TRUE(loaded) << loaded.error().message;
    const auto *bytes = reinterpret_cast<const unsigned char *>(&(*loaded)->descriptor());
    void *create_with_context = nullptr;
    std::memcpy(&create_with_context, bytes + offsetof(sockhost_plugin_descriptor, create_with_context),
                sizeof create_with_context);
    EXPECT_NE(create_with_context, nullptr);
    if (GetParam() >= 2) return;  // 1.2's own members are its own
    std::uint32_t handoff = 0;
    std::memcpy(&handoff, bytes + offsetof(sockhost_plugin_descriptor, handoff), sizeof handoff);
    EXPECT_EQ(handoff, SOCKHOST_HANDOFF_CONNECTIONS);
    void *export_state = nullptr;
    std::memcpy(&export_state, bytes + offsetof(sockhost_plugin_descriptor, export_state), sizeof export_state);
    EXPECT_NE(export_state, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Minors, OlderAbiPlugin, ::testing::Values(0, 1, 2),
                         [](const auto &minor) { return "Abi1_" + std::to_string(minor.param); });

}  // namespace
