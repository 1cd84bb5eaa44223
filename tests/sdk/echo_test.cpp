#include "plugin_paths.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::run;

const Plugin &echo() {
    static const Plugin plugin(example_plugin("echo"));
    return plugin;
}

TEST(EchoPlugin, EchoesAStreamUntilEndOfInput) {
    Input input;
    input.bytes = "hello\nworld";
    const auto result = run(echo(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "hello\nworld");
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST(EchoPlugin, FlushesEachChunkAsItArrives) {
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UNIX_STREAM;
    input.bytes = "abcdefghij";
    input.max_read_bytes = 3;
    const auto result = run(echo(), "{}", input);
    EXPECT_EQ(result.output, "abcdefghij");
    EXPECT_EQ(result.write_count, 4u);
    EXPECT_EQ(result.flush_count, 4u);
}

TEST(EchoPlugin, EchoesLargeInput) {
    Input input;
    for (int i = 0; input.bytes.size() < 300'000; ++i) input.bytes += std::to_string(i) + ",";
    const auto result = run(echo(), "{}", input);
    EXPECT_EQ(result.output, input.bytes);
}

TEST(EchoPlugin, EchoesADatagram) {
    for (const auto transport : {SOCKHOST_TRANSPORT_UDP, SOCKHOST_TRANSPORT_UNIX_DGRAM}) {
        Input input;
        input.transport = transport;
        input.bytes = std::string("packet\0with nul", 15);
        const auto result = run(echo(), "{}", input);
        EXPECT_TRUE(result.ok()) << result.error;
        EXPECT_EQ(result.output, input.bytes);
    }
}

// The plugin reads a datagram in pieces (it keeps a small buffer on the stack rather than
// allocating per datagram); the reply is still the whole packet, as one datagram.
TEST(EchoPlugin, EchoesTheLargestUdpDatagramWhole) {
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UDP;
    for (std::size_t i = 0; input.bytes.size() < 65507; ++i) input.bytes += static_cast<char>('a' + i % 26);
    const auto result = run(echo(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, input.bytes);
}

// A stream that keeps filling the small buffer moves to large reads: bulk data is not
// echoed 4 KiB at a time.
TEST(EchoPlugin, ReadsABulkStreamInLargeChunks) {
    Input input;
    input.bytes.assign(1024 * 1024, 'x');
    const auto result = run(echo(), "{}", input);
    EXPECT_EQ(result.output.size(), input.bytes.size());
    EXPECT_LE(result.write_count, 1u + input.bytes.size() / (64 * 1024));
}

TEST(EchoPlugin, AnEmptyStreamGetsNothing) {
    const auto result = run(echo(), "{}", Input{});
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.output, "");
}

TEST(EchoPlugin, AFailedReadEndsTheRequestWithItsReason) {
    Input input;
    input.bytes = "abc";
    input.read_error = "connection reset by peer";
    const auto result = run(echo(), "{}", input);
    EXPECT_EQ(result.output, "abc");
    EXPECT_EQ(result.handle, SOCKHOST_ERROR);
    EXPECT_EQ(result.error, "connection reset by peer");
}

TEST(EchoPlugin, RejectsConfigKeysByName) {
    const auto result = run(echo(), R"({"chunk": 4})", Input{});
    EXPECT_EQ(result.create, SOCKHOST_ERROR);
    EXPECT_NE(result.create_error.find("'chunk'"), std::string::npos) << result.create_error;

    const auto not_json = run(echo(), "{", Input{});
    EXPECT_EQ(not_json.create, SOCKHOST_ERROR);
    EXPECT_NE(not_json.create_error.find("not valid JSON"), std::string::npos) << not_json.create_error;
}

}  // namespace

namespace {

TEST(EchoPlugin, OptsInToHandOff) {
    EXPECT_EQ(echo().descriptor().handoff, static_cast<std::uint32_t>(SOCKHOST_HANDOFF_CONNECTIONS));
    EXPECT_STREQ(echo().descriptor().version, "1.1.0");
}

// A reload takes the connection once a chunk is echoed; what was not read yet goes with it.
TEST(EchoPlugin, AConnectionMovesAfterAnEchoedChunkWithWhatItHasNotRead) {
    Input input;
    input.bytes = "hello world";
    input.max_read_bytes = 5;
    input.hand_off_after_bytes_read = 5;
    const auto result = run(echo(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "hello");
    EXPECT_TRUE(result.handed_off);
    EXPECT_EQ(result.handed_off_bytes, " world");
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

}  // namespace
