#include "plugin_paths.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::run;

const Plugin &kv() {
    static const Plugin plugin(example_plugin("kv"));
    return plugin;
}

Input lines(std::string bytes, sockhost_transport transport = SOCKHOST_TRANSPORT_TCP) {
    Input input;
    input.transport = transport;
    input.bytes = std::move(bytes);
    return input;
}

TEST(KvPlugin, ServesEveryCommand) {
    const auto result = run(kv(), "{}",
                            lines("SET a 1\nGET a\nCOUNT\nDEL a\nGET a\nDEL a\nCOUNT\n"));
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "OK\nVALUE 1\nCOUNT 1\nDELETED\nNOT_FOUND\nNOT_FOUND\nCOUNT 0\n");
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST(KvPlugin, KeepsSpacesInValuesAndOverwrites) {
    const auto result = run(kv(), "{}", lines("SET k hello  big world\nGET k\nSET k v2\nGET k\nCOUNT\n"));
    EXPECT_EQ(result.output, "OK\nVALUE hello  big world\nOK\nVALUE v2\nCOUNT 1\n");
}

TEST(KvPlugin, AnswersCrlfLinesWithCrlfAndTakesALastLineWithoutNewline) {
    const auto result = run(kv(), "{}", lines("SET a 1\r\nget a\r\nCOUNT"));
    EXPECT_EQ(result.output, "OK\r\nVALUE 1\r\nCOUNT 1\n");
}

TEST(KvPlugin, ExplainsErrors) {
    const auto result = run(kv(), "{}",
                            lines("FROB x\n\nSET a\nSET\nGET\nGET a b\nDEL\nCOUNT 3\nSET  a 1\n"));
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output,
              "ERROR unknown command 'FROB'\n"
              "ERROR empty command\n"
              "ERROR usage: SET key value\n"
              "ERROR usage: SET key value\n"
              "ERROR usage: GET key\n"
              "ERROR usage: GET key\n"
              "ERROR usage: DEL key\n"
              "ERROR usage: COUNT\n"
              "ERROR usage: SET key value\n");
}

TEST(KvPlugin, KeepsDataAcrossRequestsOfOneInstance) {
    const Instance instance(kv());
    ASSERT_TRUE(instance.ready()) << instance.create_error();
    EXPECT_EQ(instance.serve(lines("SET colour blue\n")).output, "OK\n");
    EXPECT_EQ(instance.serve(lines("GET colour\n", SOCKHOST_TRANSPORT_UDP)).output, "VALUE blue\n");
    const Instance other(kv());
    EXPECT_EQ(other.serve(lines("GET colour\n")).output, "NOT_FOUND\n");
}

TEST(KvPlugin, RepliesToEachLineOfADatagram) {
    const auto result = run(kv(), "{}", lines("SET x 1\nGET x\nBAD\n", SOCKHOST_TRANSPORT_UNIX_DGRAM));
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "OK\nVALUE 1\nERROR unknown command 'BAD'\n");
}

TEST(KvPlugin, ALineTooLongEndsTheRequestWithAnError) {
    const auto result = run(kv(), R"({"max_line_bytes": 16})", lines("SET a 1\nSET b 0123456789abcdef\n"));
    EXPECT_EQ(result.output, "OK\n");
    EXPECT_EQ(result.handle, SOCKHOST_ERROR);
    EXPECT_NE(result.error.find("longer than 16"), std::string::npos) << result.error;
}

TEST(KvPlugin, WarnsAboutTheForkingModeAtCreate) {
    const auto result = run(kv(), "{}", lines(""));
    EXPECT_TRUE(std::any_of(result.log.begin(), result.log.end(), [](const auto &line) {
        return line.message.find("forking") != std::string::npos;
    }));
}

TEST(KvPlugin, RejectsBadConfigByKey) {
    const auto unknown = run(kv(), R"({"persist": true})", lines(""));
    EXPECT_EQ(unknown.create, SOCKHOST_ERROR);
    EXPECT_NE(unknown.create_error.find("'persist'"), std::string::npos) << unknown.create_error;
    const auto wrong_type = run(kv(), R"({"max_line_bytes": "long"})", lines(""));
    EXPECT_EQ(wrong_type.create, SOCKHOST_ERROR);
    EXPECT_NE(wrong_type.create_error.find("'max_line_bytes'"), std::string::npos) << wrong_type.create_error;
}

// Requests of one instance run concurrently under the threading mode.
TEST(KvPlugin, ServesConcurrentRequestsOfOneInstance) {
    constexpr int kThreads = 8;
    constexpr int kRequestsPerThread = 100;
    const Instance instance(kv());
    std::vector<std::thread> threads;
    std::vector<int> failures(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRequestsPerThread; ++i) {
                const std::string key = "k" + std::to_string(t) + "_" + std::to_string(i);
                const auto result = instance.serve(
                    lines("SET " + key + " " + std::to_string(i) + "\nGET " + key + "\nCOUNT\nSET shared " +
                          std::to_string(t) + "\nGET shared\n"));
                const std::string expected_prefix = "OK\nVALUE " + std::to_string(i) + "\nCOUNT ";
                if (!result.ok() || result.output.rfind(expected_prefix, 0) != 0) ++failures[t];
            }
        });
    }
    for (auto &thread : threads) thread.join();
    EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
    EXPECT_EQ(instance.serve(lines("COUNT\n")).output,
              "COUNT " + std::to_string(kThreads * kRequestsPerThread + 1) + "\n");
}

}  // namespace

namespace {

TEST(KvPlugin, SaysItIsBetweenRequestsAfterEachAnsweredLine) {
    const auto result = run(kv(), "{}", lines("SET a 1\nGET a\n"));
    EXPECT_EQ(result.between_requests_at, (std::vector<std::size_t>{8, 14}));
}

}  // namespace
