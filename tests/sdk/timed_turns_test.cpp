// Input::turns: a conversation in timed turns on the harness's virtual clock. Reads wait
// for the next turn, time out as the host's do, and sleep_ms moves the clock; nothing
// really waits.
#include "c_test_descriptor.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::TimedOutput;
using sockhost::sdk::testing::Turn;

const sockhost_host_api *host = nullptr;

// Answers each line with "got LINE"; "nap\n" sleeps 50 ms first. Ends on end of input or
// a failed read, whose reason it keeps as the request's error.
sockhost_status lines_handle(void *, sockhost_request *request) {
    char line[64];
    for (;;) {
        const std::int64_t count = host->read_line(request, line, sizeof line);
        if (count == 0) return SOCKHOST_OK;
        if (count < 0) {
            host->set_error(request, host->last_error(request));
            return host->last_error_kind(request) == SOCKHOST_ERROR_KIND_TIMEOUT ? SOCKHOST_OK : SOCKHOST_ERROR;
        }
        if (std::string(line) == "nap\n" && host->sleep_ms(request, 50) != SOCKHOST_OK) return SOCKHOST_ERROR;
        const std::string answer = "got " + std::string(line);
        if (host->write(request, answer.data(), answer.size()) != SOCKHOST_OK) return SOCKHOST_ERROR;
    }
}

const sockhost_plugin_descriptor *lines_entry(const sockhost_host_api *api) {
    host = api;
    static sockhost_plugin_descriptor descriptor = [] {
        sockhost_plugin_descriptor d = c_test_descriptor("lines", SOCKHOST_TRANSPORTS_STREAM);
        d.handle = &lines_handle;
        return d;
    }();
    return &descriptor;
}

TEST(TimedTurns, EachTurnIsAnsweredAtTheVirtualTimeItArrives) {
    const Plugin plugin(&lines_entry);
    const Instance instance(plugin);
    Input input;
    input.bytes = "a\n";
    input.turns = {Turn{100, "b\n"}, Turn{250, "nap\n"}};
    const auto result = instance.serve(input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "got a\ngot b\ngot nap\n");
    EXPECT_EQ(result.output_at, (std::vector<TimedOutput>{{0, "got a\n"}, {100, "got b\n"}, {400, "got nap\n"}}));
    EXPECT_EQ(result.elapsed_ms, 400u);
}

TEST(TimedTurns, ATurnLaterThanTheTimeoutTimesTheReadOut) {
    const Plugin plugin(&lines_entry);
    const Instance instance(plugin);
    Input input;
    input.timeout_ms = 300;
    input.bytes = "a\n";
    input.turns = {Turn{200, "b\n"}, Turn{301, "c\n"}};
    const auto before = std::chrono::steady_clock::now();
    const auto result = instance.serve(input);
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1)) << "virtual time: nothing waits";
    EXPECT_EQ(result.output_at, (std::vector<TimedOutput>{{0, "got a\n"}, {200, "got b\n"}}));
    EXPECT_EQ(result.error, "read timed out after 300 ms");
    EXPECT_EQ(result.elapsed_ms, 500u);
}

TEST(TimedTurns, ALineInPiecesWaitsForItsEnd) {
    const Plugin plugin(&lines_entry);
    const Instance instance(plugin);
    Input input;
    input.bytes = "hel";
    input.turns = {Turn{10, "lo"}, Turn{10, "\n"}};
    const auto result = instance.serve(input);
    EXPECT_EQ(result.output_at, (std::vector<TimedOutput>{{20, "got hello\n"}}));
}

}  // namespace
