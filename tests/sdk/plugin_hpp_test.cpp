// plugin.hpp: exceptions become error statuses with their message, absent hooks stay NULL,
// and the lifecycle order holds from the plugin's side.
#include "plugin_paths.hpp"

#include <sockhost/plugin.hpp>
#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::LogLine;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::run;

const Plugin &lifecycle() {
    static const Plugin plugin(sdk_test_plugin("sdk_lifecycle"));
    return plugin;
}

bool logged(const std::vector<LogLine> &log, std::string_view text) {
    return std::any_of(log.begin(), log.end(), [&](const LogLine &line) {
        return line.message.find(text) != std::string::npos;
    });
}

TEST(PluginHpp, RunsTheHooksInOrder) {
    const auto result = run(lifecycle(), "[]", Input{});
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.output, "setup;handle;finish;");
    EXPECT_EQ(result.hooks, (std::vector<std::string>{"create", "process_init", "verify", "setup",
                                                      "handle", "finish", "destroy"}));
    EXPECT_TRUE(logged(result.log, "lifecycle: created"));
    EXPECT_TRUE(logged(result.log, "lifecycle: process_init"));
    EXPECT_TRUE(logged(result.log, "verify 127.0.0.1:40000"));
}

TEST(PluginHpp, AnExceptionInHandleIsAnErrorWithItsMessageAndFinishStillRuns) {
    const auto result = run(lifecycle(), R"(["handle_throws"])", Input{});
    EXPECT_EQ(result.handle, SOCKHOST_ERROR);
    EXPECT_EQ(result.error, "handle failed on purpose");
    EXPECT_EQ(result.finish, SOCKHOST_OK);
    EXPECT_EQ(result.output, "setup;handle;finish;");
}

TEST(PluginHpp, ANonStandardExceptionIsAnUnknownException) {
    const auto result = run(lifecycle(), R"(["handle_throws_int"])", Input{});
    EXPECT_EQ(result.handle, SOCKHOST_ERROR);
    EXPECT_EQ(result.error, "unknown exception");
}

TEST(PluginHpp, AnExceptionInSetupSkipsHandleAndFinish) {
    const auto result = run(lifecycle(), R"(["setup_throws"])", Input{});
    EXPECT_EQ(result.setup, SOCKHOST_ERROR);
    EXPECT_EQ(result.error, "setup failed on purpose");
    EXPECT_FALSE(result.handle.has_value());
    EXPECT_FALSE(result.finish.has_value());
    EXPECT_EQ(result.output, "setup;");
}

TEST(PluginHpp, AnExceptionInFinishIsAnError) {
    const auto result = run(lifecycle(), R"(["finish_throws"])", Input{});
    EXPECT_EQ(result.handle, SOCKHOST_OK);
    EXPECT_EQ(result.finish, SOCKHOST_ERROR);
    EXPECT_EQ(result.error, "finish failed on purpose");
}

TEST(PluginHpp, AnExceptionInTheConstructorFailsCreateWithItsMessage) {
    const auto result = run(lifecycle(), R"(["constructor_throws"])", Input{});
    EXPECT_EQ(result.create, SOCKHOST_ERROR);
    EXPECT_EQ(result.create_error, "constructor refused the config");
    EXPECT_EQ(result.hooks, std::vector<std::string>{"create"});  // no destroy

    const auto unknown = run(lifecycle(), R"(["constructor_throws_int"])", Input{});
    EXPECT_EQ(unknown.create, SOCKHOST_ERROR);
    EXPECT_EQ(unknown.create_error, "unknown exception");
}

TEST(PluginHpp, AnExceptionInProcessInitFailsItAndLogsTheMessage) {
    const auto result = run(lifecycle(), R"(["process_init_throws"])", Input{});
    EXPECT_EQ(result.process_init, SOCKHOST_ERROR);
    EXPECT_TRUE(logged(result.log, "process_init failed: cannot start in this process"));
    EXPECT_FALSE(result.handle.has_value());
}

TEST(PluginHpp, AnExceptionInVerifyRefusesTheRequestAndLogsTheMessage) {
    const auto result = run(lifecycle(), R"(["verify_throws"])", Input{});
    EXPECT_EQ(result.verify, false);
    EXPECT_TRUE(logged(result.log, "verify failed, request refused: verify broke"));
    EXPECT_EQ(result.output, "");
}

TEST(PluginHpp, VerifyCanRefuse) {
    const auto result = run(lifecycle(), R"(["verify_refuses"])", Input{});
    EXPECT_EQ(result.verify, false);
    EXPECT_FALSE(result.setup.has_value());
}

TEST(PluginHpp, DescribesThePlugin) {
    const auto &descriptor = lifecycle().descriptor();
    EXPECT_EQ(descriptor.struct_size, sizeof(sockhost_plugin_descriptor));
    EXPECT_EQ(descriptor.abi_major, SOCKHOST_ABI_MAJOR);
    EXPECT_EQ(descriptor.abi_minor, SOCKHOST_ABI_MINOR);
    EXPECT_STREQ(descriptor.name, "sdk_lifecycle");
    EXPECT_STREQ(descriptor.version, "0.0.1");
    EXPECT_EQ(descriptor.transports, static_cast<std::uint32_t>(SOCKHOST_TRANSPORTS_STREAM));
    EXPECT_NE(descriptor.process_init, nullptr);
    EXPECT_NE(descriptor.verify, nullptr);
    EXPECT_NE(descriptor.setup, nullptr);
    EXPECT_NE(descriptor.finish, nullptr);
}

TEST(PluginHpp, LeavesAbsentOptionalHooksNull) {
    const Plugin plugin(sdk_test_plugin("sdk_handle_only"));
    const auto &descriptor = plugin.descriptor();
    EXPECT_EQ(descriptor.process_init, nullptr);
    EXPECT_EQ(descriptor.verify, nullptr);
    EXPECT_EQ(descriptor.setup, nullptr);
    EXPECT_EQ(descriptor.finish, nullptr);
    EXPECT_NE(descriptor.create, nullptr);
    EXPECT_NE(descriptor.destroy, nullptr);
    EXPECT_NE(descriptor.handle, nullptr);
    EXPECT_EQ(descriptor.transports, static_cast<std::uint32_t>(SOCKHOST_TRANSPORT_UDP));

    Input input;
    input.transport = SOCKHOST_TRANSPORT_UDP;
    const auto result = run(plugin, "{}", input);
    EXPECT_EQ(result.hooks, (std::vector<std::string>{"create", "handle", "destroy"}));
    EXPECT_EQ(result.output, "handled");
}

}  // namespace

namespace {

int stopping_calls = 0;
bool answer_stopping(const sockhost_request *) {
    ++stopping_calls;
    return true;
}

// A plugin built against ABI 1.1 may be given a 1.0 host table, which ends before
// `stopping`: Request::stopping() must then answer false without reading past the table.
TEST(PluginHpp, StoppingAsksOnlyAHostTableThatHasIt) {
    sockhost_host_api table = sockhost::sdk::testing::host_api();
    table.stopping = &answer_stopping;
    int opaque = 0;
    auto *request = reinterpret_cast<sockhost_request *>(&opaque);  // never dereferenced here

    stopping_calls = 0;
    EXPECT_TRUE(sockhost::sdk::Request(&table, request).stopping());
    EXPECT_EQ(stopping_calls, 1);

    table.struct_size = offsetof(sockhost_host_api, stopping);  // as a 1.0 host builds it
    table.abi_minor = 0;
    EXPECT_FALSE(sockhost::sdk::Request(&table, request).stopping());
    EXPECT_EQ(stopping_calls, 1);
}

}  // namespace
