#include "plugin_paths.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
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

namespace {

// --- Reloads: connections move, the store is exported and imported. ---

std::string little_endian(std::uint64_t value, std::size_t bytes) {
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
    return out;
}

// A kv state written by hand (kv_state.hpp's version 1), so that it can be made wrong.
std::string state_of(const std::vector<std::pair<std::string, std::string>> &entries, int version = 1,
                     std::optional<std::uint64_t> count = std::nullopt) {
    std::string state = "kvst" + std::string(1, static_cast<char>(version)) + little_endian(count.value_or(entries.size()), 8);
    for (const auto &[key, value] : entries)
        state += little_endian(key.size(), 4) + key + little_endian(value.size(), 4) + value;
    return state;
}

TEST(KvPlugin, OptsInToHandOffAndStateExport) {
    const auto &descriptor = kv().descriptor();
    EXPECT_EQ(descriptor.handoff, static_cast<std::uint32_t>(SOCKHOST_HANDOFF_CONNECTIONS));
    EXPECT_NE(descriptor.export_state, nullptr);
    EXPECT_NE(descriptor.import_state, nullptr);
    EXPECT_STREQ(descriptor.version, "1.2.0");
}

TEST(KvPlugin, TheNextGenerationImportsEveryKey) {
    Instance old_generation(kv());
    std::string sets;
    std::string gets;
    std::string expected;
    constexpr int kKeys = 2000;
    for (int i = 0; i < kKeys; ++i) {
        const std::string key = "key" + std::to_string(i);
        std::string value = "value " + std::to_string(i) + " with  spaces";
        if (i % 3 == 0) value += std::string("\0\x01\xff\r\tend", 8);  // any byte but a line end
        sets += "SET " + key + " " + value + "\n";
        gets += "GET " + key + "\n";
        expected += "VALUE " + value + "\n";
    }
    ASSERT_TRUE(old_generation.serve(lines(sets)).ok());
    const auto exported = old_generation.export_state();
    ASSERT_TRUE(exported.ok());

    Instance new_generation(kv());
    const auto imported = new_generation.import_state(exported.state);
    ASSERT_TRUE(imported.ok()) << imported.error;
    EXPECT_TRUE(std::any_of(imported.log.begin(), imported.log.end(), [](const auto &line) {
        return line.message == "kv: imported 2000 keys";
    }));
    EXPECT_EQ(new_generation.serve(lines(gets)).output, expected);
    EXPECT_EQ(new_generation.serve(lines("COUNT\n")).output, "COUNT " + std::to_string(kKeys) + "\n");
    EXPECT_TRUE(old_generation.misuse().empty());
}

TEST(KvPlugin, AnEmptyStoreExportsAndImports) {
    Instance old_generation(kv());
    const auto exported = old_generation.export_state();
    ASSERT_TRUE(exported.ok());
    EXPECT_EQ(exported.state, state_of({}));
    Instance new_generation(kv());
    EXPECT_TRUE(new_generation.import_state(exported.state).ok());
    EXPECT_EQ(new_generation.serve(lines("COUNT\n")).output, "COUNT 0\n");
}

TEST(KvPlugin, RefusesAMalformedStateWithItsReason) {
    const std::string one = state_of({{"a", "1"}});
    const std::string two = state_of({{"a", "1"}, {"bbbbbbbbbbbb", "2"}});
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "kv state: 0 bytes, shorter than its 13-byte header"},
        {"GET a 1\nxxxxxxxxxxxx", "does not begin with \"kvst\": not a kv state"},
        {state_of({{"a", "1"}}, 2), "version 2, and this kv reads version 1"},
        {state_of({{"a", "1"}}, 1, 1'000'000'000'000), "says 1000000000000 entries, more than its 10 bytes"},
        {state_of({{"aaaaaaaa", "1"}, {"b", "2"}}, 1, 3), "entry 3 of 3 is cut short in its key"},
        {one.substr(0, one.size() - 1), "entry 1 of 1 is cut short in its value"},
        {two.substr(0, 13 + 10 + 4 + 5), "entry 2 of 2 is cut short in its key"},
        {one + "x", "1 bytes after the last entry"},
        {state_of({{"a", "1"}, {"a", "2"}}), "entry 2 of 2 repeats the key of an earlier entry"},
        {state_of({{"a b", "1"}}), "entry 1 of 1 has a key kv cannot serve (empty, or with a space)"},
        {state_of({{"", "1"}}), "has a key kv cannot serve"},
    };
    for (const auto &[state, reason] : cases) {
        Instance instance(kv());
        const auto imported = instance.import_state(state);
        EXPECT_EQ(imported.status, SOCKHOST_ERROR) << reason;
        EXPECT_NE(imported.error.find(reason), std::string::npos) << "wanted '" << reason << "', got '" << imported.error << "'";
        EXPECT_EQ(imported.error.rfind("kv state: ", 0), 0u) << imported.error;
        EXPECT_EQ(instance.serve(lines("COUNT\n")).output, "COUNT 0\n");  // nothing half-imported
    }
}

// The host exports on the worker's main thread while requests run on theirs.
TEST(KvPlugin, ExportsWhileRequestsChangeTheStore) {
    Instance instance(kv());
    std::atomic<bool> done = false;
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i)
                instance.serve(lines("SET k" + std::to_string(t) + "_" + std::to_string(i) + " v\nDEL k" +
                                     std::to_string(t) + "_" + std::to_string(i / 2) + "\n"));
        });
    std::size_t exports = 0;
    std::size_t failures = 0;
    std::thread exporter([&] {
        do {  // at least once, even if the writers are done before this thread runs
            const auto exported = instance.export_state();
            Instance check(kv());
            if (!exported.ok() || !check.import_state(exported.state).ok()) ++failures;
            ++exports;
        } while (!done.load());
    });
    for (auto &writer : writers) writer.join();
    done = true;
    exporter.join();
    EXPECT_GT(exports, 0u);
    EXPECT_EQ(failures, 0u);
    EXPECT_TRUE(instance.misuse().empty());
}

// An idle connection moves between lines; the lines not yet read go with it and the next
// generation answers them from the imported store.
TEST(KvPlugin, AConnectionMovesBetweenLinesWithWhatItHasNotRead) {
    Instance old_generation(kv());
    Input input = lines("SET a 1\nGET a\nCOUNT\n");
    input.hand_off_after_bytes_read = 0;
    const auto moved = old_generation.serve(input);
    EXPECT_TRUE(moved.ok()) << moved.error;
    EXPECT_EQ(moved.output, "OK\n");
    ASSERT_TRUE(moved.handed_off);
    EXPECT_EQ(moved.handed_off_bytes, "GET a\nCOUNT\n");

    Instance new_generation(kv());
    ASSERT_TRUE(new_generation.import_state(old_generation.export_state().state).ok());
    Input handed_over = lines(moved.handed_off_bytes);
    handed_over.handed_over_state = moved.handoff_state;
    EXPECT_EQ(new_generation.serve(handed_over).output, "VALUE 1\nCOUNT 1\n");
}

}  // namespace

namespace {

// Metrics (ABI 1.3): a gauge of the keys held, a counter of the lines answered.
TEST(KvPlugin, GaugesItsKeysAndCountsItsCommands) {
    Instance instance(kv());
    ASSERT_TRUE(instance.ready());
    EXPECT_TRUE(instance.serve(lines("SET a 1\nSET b 2\nSET a 3\nGET a\nBOGUS\n")).ok());
    EXPECT_EQ(instance.metric("kv_keys"), 2.0);
    EXPECT_EQ(instance.metric("kv_commands_total"), 5.0);
    EXPECT_TRUE(instance.serve(lines("DEL a\nDEL zz\n")).ok());
    EXPECT_EQ(instance.metric("kv_keys"), 1.0);
    EXPECT_EQ(instance.metric("kv_commands_total"), 7.0);
    EXPECT_EQ(instance.metric("no_such_metric"), std::nullopt);
}

}  // namespace
