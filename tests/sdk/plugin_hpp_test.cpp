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

// what() alone says too little for most exception types: the type comes first.
TEST(PluginHpp, AnExceptionOfAnotherTypeIsDescribedWithItsType) {
    const auto stoi = run(lifecycle(), R"(["handle_throws_stoi"])", Input{});
    EXPECT_EQ(stoi.handle, SOCKHOST_ERROR);
    EXPECT_EQ(stoi.error, "std::invalid_argument: stoi");
    const auto own = run(lifecycle(), R"(["handle_throws_own_type"])", Input{});
    EXPECT_EQ(own.error, "(anonymous namespace)::NotReady: the cache is cold");
}

TEST(PluginHpp, ReadExactGathersPiecesAndFailsOnAShortInput) {
    Input pieces;
    pieces.bytes = "abcdefg";
    pieces.max_read_bytes = 2;  // arrives two bytes at a time
    const auto whole = run(lifecycle(), R"(["handle_reads_exact_5"])", pieces);
    EXPECT_EQ(whole.handle, SOCKHOST_OK);
    EXPECT_EQ(whole.output, "setup;handle;abcde;finish;");
    Input short_input;
    short_input.bytes = "abc";
    const auto cut = run(lifecycle(), R"(["handle_reads_exact_5"])", short_input);
    EXPECT_EQ(cut.handle, SOCKHOST_ERROR);
    EXPECT_EQ(cut.error, "read_exact: end of input after 3 of 5 bytes");
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
    EXPECT_EQ(descriptor.handoff, 0u);  // hand_off_connections is declared false
    EXPECT_EQ(descriptor.export_state, nullptr);
    EXPECT_EQ(descriptor.import_state, nullptr);
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
    EXPECT_EQ(descriptor.handoff, 0u);
    EXPECT_EQ(descriptor.export_state, nullptr);
    EXPECT_EQ(descriptor.import_state, nullptr);

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

namespace {

// --- Reloads (ABI 1.2): the opt-ins, the connection's handoff state, export and import. ---

using sockhost::sdk::testing::Instance;

const Plugin &handoff() {
    static const Plugin plugin(sdk_test_plugin("sdk_handoff"));
    return plugin;
}

Input stream(std::string bytes) {
    Input input;
    input.bytes = std::move(bytes);
    return input;
}

TEST(PluginHpp, DescribesTheReloadOptIns) {
    const auto &descriptor = handoff().descriptor();
    EXPECT_EQ(descriptor.struct_size, sizeof(sockhost_plugin_descriptor));
    EXPECT_EQ(descriptor.handoff, static_cast<std::uint32_t>(SOCKHOST_HANDOFF_CONNECTIONS));
    EXPECT_NE(descriptor.export_state, nullptr);
    EXPECT_NE(descriptor.import_state, nullptr);
}

TEST(PluginHpp, SetHandoffStateAttachesTheConnectionsState) {
    const auto result = run(handoff(), "[]", stream("NAME ann\nNAME bo\n"));
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "hello\nok\nok\n");
    EXPECT_EQ(result.handoff_state, "bo");
    EXPECT_EQ(result.handoff_state_set_at, (std::vector<std::size_t>{9, 17}));
}

TEST(PluginHpp, SetHandoffStateThrowsWhenTheHostRefuses) {
    const auto too_large = run(handoff(), "[]", stream("NAME ann\nBIG\n"));
    EXPECT_EQ(too_large.handle, SOCKHOST_ERROR);
    EXPECT_NE(too_large.error.find("16385 bytes, more than the 16384 of SOCKHOST_HANDOFF_STATE_MAX"),
              std::string::npos)
        << too_large.error;
    EXPECT_EQ(too_large.handoff_state, "ann");  // unchanged

    Input datagram = stream("NAME ann\n");
    datagram.transport = SOCKHOST_TRANSPORT_UDP;
    const auto refused = run(handoff(), "[]", datagram);
    EXPECT_EQ(refused.handle, SOCKHOST_ERROR);
    EXPECT_NE(refused.error.find("datagram"), std::string::npos) << refused.error;
}

TEST(PluginHpp, HandoffStateIsEmptyUnlessTheConnectionWasHandedOver) {
    EXPECT_EQ(run(handoff(), "[]", stream("")).output, "hello\n");
    Input handed_over = stream("NAMES\n");
    handed_over.handed_over_state = "ann";
    EXPECT_EQ(run(handoff(), "[]", handed_over).output, "welcome back ann\n\n");
    handed_over.handed_over_state = "";  // handed over, nothing attached
    EXPECT_EQ(run(handoff(), "[]", handed_over).output, "welcome back \n\n");
}

// Leaves the connection when a reload takes it, at the next between_requests.
TEST(PluginHpp, EndsWhenItsConnectionIsHandedOff) {
    Input input = stream("NAME ann\nNAMES\nNAME bo\n");
    input.hand_off_after_bytes_read = 9;
    const auto result = run(handoff(), "[]", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_TRUE(result.handed_off);
    EXPECT_EQ(result.output, "hello\nok\n");
    EXPECT_EQ(result.handed_off_bytes, "NAMES\nNAME bo\n");
    EXPECT_EQ(result.handoff_state, "ann");
}

int set_handoff_state_calls = 0;
sockhost_status count_set_handoff_state(sockhost_request *, const void *, std::size_t) {
    ++set_handoff_state_calls;
    return SOCKHOST_OK;
}
const void *some_handoff_state(const sockhost_request *, std::size_t *length) {
    *length = 2;
    return "ab";
}

// A 1.2 plugin on a host whose table ends before 1.2's members (a 1.1 host), or whose
// table has them NULL: nothing is attached and nothing was handed over.
TEST(PluginHpp, HandoffCallsAskOnlyAHostTableThatHasThem) {
    sockhost_host_api table = sockhost::sdk::testing::host_api();
    table.set_handoff_state = &count_set_handoff_state;
    table.handoff_state = &some_handoff_state;
    int opaque = 0;
    auto *request = reinterpret_cast<sockhost_request *>(&opaque);  // never dereferenced here

    set_handoff_state_calls = 0;
    EXPECT_TRUE(sockhost::sdk::Request(&table, request).set_handoff_state("x"));
    EXPECT_EQ(sockhost::sdk::Request(&table, request).handoff_state(), "ab");
    EXPECT_EQ(set_handoff_state_calls, 1);

    table.struct_size = offsetof(sockhost_host_api, set_handoff_state);  // as a 1.1 host builds it
    table.abi_minor = 1;
    EXPECT_FALSE(sockhost::sdk::Request(&table, request).set_handoff_state("x"));
    EXPECT_EQ(sockhost::sdk::Request(&table, request).handoff_state(), std::nullopt);
    EXPECT_EQ(set_handoff_state_calls, 1);

    table = sockhost::sdk::testing::host_api();
    table.set_handoff_state = nullptr;
    table.handoff_state = nullptr;
    EXPECT_FALSE(sockhost::sdk::Request(&table, request).set_handoff_state("x"));
    EXPECT_EQ(sockhost::sdk::Request(&table, request).handoff_state(), std::nullopt);
}

TEST(PluginHpp, ExportStateGoesToTheNextGenerationsImportState) {
    Instance old_generation(handoff(), "[]");
    ASSERT_TRUE(old_generation.serve(stream("NAME ann\nNAME bo\n")).ok());
    const auto exported = old_generation.export_state();
    ASSERT_TRUE(exported.ok());
    EXPECT_EQ(exported.state, "names:ann,bo");

    Instance new_generation(handoff(), "[]");
    const auto imported = new_generation.import_state(exported.state);
    EXPECT_TRUE(imported.ok()) << imported.error;
    EXPECT_EQ(new_generation.serve(stream("NAMES\n")).output, "hello\nann,bo\n");
}

TEST(PluginHpp, AnExceptionInExportStateFailsItAndLogsTheMessage) {
    Instance instance(handoff(), R"(["export_throws"])");
    const auto exported = instance.export_state();
    EXPECT_EQ(exported.status, SOCKHOST_ERROR);
    EXPECT_TRUE(logged(exported.log, "export_state failed: cannot export now"));

    Instance unknown(handoff(), R"(["export_throws_int"])");
    EXPECT_TRUE(logged(unknown.export_state().log, "export_state failed: unknown exception"));
}

TEST(PluginHpp, AnExceptionInImportStateFailsItWithTheMessage) {
    Instance instance(handoff(), "[]");
    const auto imported = instance.import_state("kv1 something else");
    EXPECT_EQ(imported.status, SOCKHOST_ERROR);
    EXPECT_EQ(imported.error, "not a handoff plugin state: 'kv1 some'");

    Instance unknown(handoff(), R"(["import_throws_int"])");
    EXPECT_EQ(unknown.import_state("names:").error, "unknown exception");
}

// The exported bytes stay valid until that instance's next export_state or destroy: the
// SDK keeps them per instance, so another listener's instance exporting meanwhile does
// not overwrite them.
TEST(PluginHpp, EachInstanceKeepsItsOwnExportedBytes) {
    Instance first(handoff(), "[]");
    Instance second(handoff(), "[]");
    first.serve(stream("NAME ann\n"));
    second.serve(stream("NAME bo\n"));
    EXPECT_EQ(first.export_state().state, "names:ann");
    EXPECT_EQ(second.export_state().state, "names:bo");
    EXPECT_EQ(first.export_state().state, "names:ann");
    first.close();
    second.close();
    EXPECT_TRUE(first.misuse().empty()) << first.misuse()[0];
    EXPECT_TRUE(second.misuse().empty()) << second.misuse()[0];
}

}  // namespace
