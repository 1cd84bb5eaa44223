// serve_interleaved(): event mode's semantics in a unit test. Requests share one thread,
// switch where a host call waits, and see each other's changes across that call.
#include "c_test_descriptor.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::serve_interleaved;
using sockhost::sdk::testing::TimedOutput;
using sockhost::sdk::testing::Turn;

const sockhost_host_api *host = nullptr;

// Counts the requests inside handle in the instance, waits for a line (or 10 ms), then
// answers how many were inside and its thread_local count: a plugin that assumes nothing
// changes across a host call, or that thread_local is per request.
struct Gauge {
    int inside = 0;
};
Gauge gauge;
thread_local int served_on_this_thread = 0;
std::vector<std::thread::id> threads;

sockhost_status gauge_create(const char *, void **instance, char *, size_t) {
    gauge = Gauge{};
    *instance = &gauge;
    return SOCKHOST_OK;
}
sockhost_status gauge_handle(void *instance, sockhost_request *request) {
    auto &state = *static_cast<Gauge *>(instance);
    ++state.inside;
    ++served_on_this_thread;
    threads.push_back(std::this_thread::get_id());
    char line[32];
    if (host->read_line(request, line, sizeof line) == 0) host->sleep_ms(request, 10);
    const std::string answer =
        std::to_string(state.inside) + " inside, thread_local " + std::to_string(served_on_this_thread) + "\n";
    --state.inside;
    // Logged without the request: the harness files it under the request whose hook runs.
    host->log(nullptr, SOCKHOST_LOG_INFO, (std::string("answered ") + host->peer_text(request)).c_str());
    return host->write(request, answer.data(), answer.size());
}

const sockhost_plugin_descriptor *gauge_entry(const sockhost_host_api *api) {
    host = api;
    static sockhost_plugin_descriptor descriptor = [] {
        sockhost_plugin_descriptor d = c_test_descriptor("gauge", SOCKHOST_TRANSPORTS_ALL);
        d.create = &gauge_create;
        d.destroy = [](void *) {};
        d.handle = &gauge_handle;
        return d;
    }();
    return &descriptor;
}

TEST(InterleavedRun, RequestsOverlapAcrossAWaitingHostCallOnOneThread) {
    const Plugin plugin(&gauge_entry);
    const Instance instance(plugin);
    served_on_this_thread = 0;
    threads.clear();
    const auto results = serve_interleaved(instance, std::vector<Input>(3));
    ASSERT_EQ(results.size(), 3u);
    for (const auto &result : results) EXPECT_TRUE(result.ok()) << result.error;
    // All three were inside when the first resumed: the instance changed across its sleep.
    EXPECT_EQ(results[0].output, "3 inside, thread_local 3\n");
    EXPECT_EQ(results[1].output, "2 inside, thread_local 3\n");
    EXPECT_EQ(results[2].output, "1 inside, thread_local 3\n");
    ASSERT_EQ(threads.size(), 3u);
    EXPECT_EQ(threads[0], std::this_thread::get_id());
    EXPECT_EQ(threads[1], threads[0]);
    EXPECT_EQ(threads[2], threads[0]);

    // The same requests one after another (sync, or each on its own thread) never overlap.
    served_on_this_thread = 0;
    EXPECT_EQ(instance.serve(Input{}).output, "1 inside, thread_local 1\n");
}

TEST(InterleavedRun, TheRequestWhoseTurnComesFirstIsResumedFirst) {
    const Plugin plugin(&gauge_entry);
    const Instance instance(plugin);
    std::vector<Input> inputs(2);
    inputs[0].turns = {Turn{300, "late\n"}};
    inputs[1].turns = {Turn{100, "early\n"}};
    const auto results = serve_interleaved(instance, inputs);
    EXPECT_EQ(results[1].output_at.size(), 1u);
    EXPECT_EQ(results[1].output_at.at(0).at_ms, 100u);
    EXPECT_EQ(results[1].output_at.at(0).bytes.substr(0, 8), "2 inside");
    EXPECT_EQ(results[0].output_at.at(0).at_ms, 300u);
    EXPECT_EQ(results[0].output_at.at(0).bytes.substr(0, 8), "1 inside");
    EXPECT_EQ(results[0].elapsed_ms, 300u);
    EXPECT_EQ(results[1].elapsed_ms, 100u);
}

TEST(InterleavedRun, EachRequestKeepsItsOwnLog) {
    const Plugin plugin(&gauge_entry);
    const Instance instance(plugin);
    std::vector<Input> inputs(2);
    inputs[0].peer = "127.0.0.1:1";
    inputs[1].peer = "127.0.0.1:2";
    const auto results = serve_interleaved(instance, inputs);
    for (std::size_t index = 0; index < results.size(); ++index) {
        ASSERT_EQ(results[index].log.size(), 1u);
        EXPECT_EQ(results[index].log[0].message, "answered " + inputs[index].peer);
        EXPECT_TRUE(results[index].misuse.empty());
    }
}

TEST(InterleavedRun, RefusesWhatServeRefuses) {
    const Plugin plugin(&gauge_entry);
    const Instance instance(plugin);
    Input handed_off;
    handed_off.hand_off_after_bytes_read = 0;  // the plugin does not opt in to handoff
    EXPECT_THROW(serve_interleaved(instance, {Input{}, handed_off}), std::logic_error);
}

}  // namespace
