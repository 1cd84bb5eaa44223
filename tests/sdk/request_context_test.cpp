// ABI 1.4 through the C++ SDK and the harness: IoError's kind, a request's user data, and
// InstanceContext::info, with the request_context probe (tests/plugins).
#include "plugin_paths.hpp"

#include <sockhost/plugin.hpp>
#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using sockhost::sdk::InstanceInfo;
using sockhost::sdk::Mode;
using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::LogLine;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::serve_forked;

const Plugin &probe() {
    static const Plugin plugin(sdk_test_plugin("sdk_request_context"));
    return plugin;
}

std::vector<std::string> messages(const std::vector<LogLine> &log) {
    std::vector<std::string> texts;
    for (const auto &line : log) texts.push_back(line.message);
    return texts;
}

int count_of(const std::vector<LogLine> &log, const std::string &text) {
    return static_cast<int>(std::count_if(log.begin(), log.end(), [&](const LogLine &line) {
        return line.message == text;
    }));
}

TEST(RequestContext, ALineTooLongIsAnsweredAndTheConversationGoesOn) {
    const Instance instance(probe(), R"({"max_line": 8})");
    ASSERT_TRUE(instance.ready()) << instance.create_error();
    Input input;
    input.bytes = "hi\n" + std::string(40, 'x') + "\nping\nquit\n";
    input.max_read_bytes = 5;
    const auto result = instance.serve(input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "line=hi\nerror kind=line_too_long\nline=ping\n");
}

TEST(RequestContext, ATimeoutAndAPeerGoneEndTheRequestQuietlyByTheirKind) {
    const Instance instance(probe());
    Input idle;
    idle.bytes = "hi\n";
    idle.read_error = "read timed out after 300 ms";
    const auto timed_out = instance.serve(idle);
    EXPECT_TRUE(timed_out.ok()) << timed_out.error;
    EXPECT_EQ(timed_out.output, "line=hi\n");
    EXPECT_EQ(count_of(timed_out.log, "request_context: ended: kind=timeout"), 1) << ::testing::PrintToString(messages(timed_out.log));
    Input reset;
    reset.read_error = "Connection reset by peer";
    reset.read_error_kind = SOCKHOST_ERROR_KIND_PEER_GONE;
    EXPECT_EQ(count_of(instance.serve(reset).log, "request_context: ended: kind=peer_gone"), 1);
}

TEST(RequestContext, IoErrorKeepsItsKindAndAKindOfALaterMinorIsOther) {
    using sockhost::sdk::IoError;
    using sockhost::sdk::IoErrorKind;
    EXPECT_EQ(IoError("x").kind(), IoErrorKind::other);
    EXPECT_EQ(IoError("x", IoErrorKind::cancelled).kind(), IoErrorKind::cancelled);
    EXPECT_EQ(sockhost::sdk::io_error_kind_from_abi(SOCKHOST_ERROR_KIND_TIMEOUT), IoErrorKind::timeout);
    EXPECT_EQ(sockhost::sdk::io_error_kind_from_abi(99), IoErrorKind::other);  // a later minor's kind
}

TEST(RequestContext, UserDataLivesFromVerifyToFinishAndIsReleasedOnce) {
    const Instance instance(probe());
    Input input;
    input.bytes = "replace\nquit\n";
    const auto result = instance.serve(input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "replaced\n");
    EXPECT_EQ(result.user_data_releases, 2u);
    EXPECT_EQ(messages(result.log),
              (std::vector<std::string>{"request_context: released user data after verify,setup,handle (replaced)",
                                        "request_context: released user data after replacement,finish"}));
}

TEST(RequestContext, UnderForkingWhatVerifyAttachedIsReleasedInTheWorkerAndInTheChild) {
    const Instance instance(probe());
    Input input;
    input.bytes = "quit\n";
    const auto result = serve_forked(instance, input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(count_of(result.log, "request_context: released user data after verify,setup,handle,finish"), 1)
        << ::testing::PrintToString(messages(result.log));
    EXPECT_EQ(count_of(result.log, "request_context: released user data after verify"), 1)
        << ::testing::PrintToString(messages(result.log));
    EXPECT_EQ(result.user_data_releases, 2u);
}

TEST(RequestContext, TheInstanceKnowsWhereItRuns) {
    InstanceInfo place;
    place.transport = SOCKHOST_TRANSPORT_UNIX_STREAM;
    place.mode = Mode::event;
    place.worker_index = 2;
    place.generation = 7;
    place.listener_name = "control";
    place.address = "unix:/run/control.sock";
    const Instance instance(probe(), "{}", place);
    ASSERT_TRUE(instance.ready()) << instance.create_error();
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UNIX_STREAM;
    input.bytes = "info\n";
    EXPECT_EQ(instance.serve(input).output,
              "mode=event generation=7 worker=2 listener=control address=unix:/run/control.sock\n");
    EXPECT_EQ(messages(instance.log()), std::vector<std::string>{"request_context: instance of generation 7 "
                                                                 "worker 2 for unix:/run/control.sock in event mode"});

    const Instance by_default(probe());
    Input tcp;
    tcp.bytes = "info\n";
    EXPECT_EQ(by_default.serve(tcp).output,
              "mode=threading generation=1 worker=1 listener= address=tcp://127.0.0.1:8000\n");
}

TEST(RequestContext, APluginRefusesAModeItCannotServe) {
    InstanceInfo forking;
    forking.mode = Mode::forking;
    forking.address = "tcp://127.0.0.1:8000";
    const Instance instance(probe(), R"({"refuse_mode": "forking"})", forking);
    EXPECT_FALSE(instance.ready());
    EXPECT_EQ(instance.create_error(), "refusing the forking mode: this plugin keeps state across requests");
    InstanceInfo threading = forking;
    threading.mode = Mode::threading;
    EXPECT_TRUE(Instance(probe(), R"({"refuse_mode": "forking"})", threading).ready());
}

}  // namespace
