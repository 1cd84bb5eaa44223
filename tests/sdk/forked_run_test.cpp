// serve_forked(): forking mode's semantics (a child per request, state lost) in a unit test.
#include "c_test_descriptor.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <string>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::serve_forked;

const sockhost_host_api *host = nullptr;

// Counts its requests in the instance and answers with the count: a plugin whose author
// expects the count to grow, as it does in sync and threading mode.
struct Counter {
    int served = 0;
    int process_inits = 0;
};
Counter counter;

sockhost_status counter_create(const char *, void **instance, char *, size_t) {
    counter = Counter{};
    *instance = &counter;
    return SOCKHOST_OK;
}
void counter_destroy(void *) {}
sockhost_status counter_process_init(void *instance) {
    ++static_cast<Counter *>(instance)->process_inits;
    return SOCKHOST_OK;
}
sockhost_status counter_handle(void *instance, sockhost_request *request) {
    auto &state = *static_cast<Counter *>(instance);
    const std::string answer = std::to_string(++state.served) + "\n";
    host->log(request, SOCKHOST_LOG_INFO, "counted");
    if (state.served < 0) std::raise(SIGSEGV);
    std::string input(16, '\0');
    if (host->read(request, input.data(), input.size()) == 3 && input.rfind("die", 0) == 0) std::raise(SIGABRT);
    return host->write(request, answer.data(), answer.size());
}

const sockhost_plugin_descriptor *counter_entry(const sockhost_host_api *api) {
    host = api;
    static sockhost_plugin_descriptor descriptor = [] {
        sockhost_plugin_descriptor d = c_test_descriptor("counter", SOCKHOST_TRANSPORTS_ALL);
        d.create = &counter_create;
        d.destroy = &counter_destroy;
        d.process_init = &counter_process_init;
        d.handle = &counter_handle;
        return d;
    }();
    return &descriptor;
}

TEST(ForkedRun, ACountInTheInstanceIsOneForEveryRequestBecauseEachChildsChangeIsLost) {
    const Plugin plugin(&counter_entry);
    const Instance instance(plugin);
    Input input;
    input.bytes = "hi";
    for (int request = 0; request < 3; ++request) {
        const auto result = serve_forked(instance, input);
        EXPECT_TRUE(result.ok());
        EXPECT_EQ(result.output, "1\n");
        EXPECT_EQ(result.child_process_init, SOCKHOST_OK);
        ASSERT_EQ(result.log.size(), 1u);
        EXPECT_EQ(result.log[0].message, "counted");
    }
    EXPECT_EQ(counter.served, 0);         // the parent's instance never served
    EXPECT_EQ(counter.process_inits, 1);  // the children's process_init ran in the children
    // The same plugin under serve() (sync, threading) counts on.
    EXPECT_EQ(instance.serve(input).output, "1\n");
    EXPECT_EQ(instance.serve(input).output, "2\n");
}

TEST(ForkedRun, HooksAreVerifyInTheParentThenProcessInitAndHandleInTheChild) {
    const Plugin plugin(&counter_entry);
    const Instance instance(plugin);
    const auto result = serve_forked(instance, Input{});
    EXPECT_EQ(result.hooks, (std::vector<std::string>{"process_init", "handle"}));
}

TEST(ForkedRun, AChildKilledBySignalIsAResultNotACrashOfTheTest) {
    const Plugin plugin(&counter_entry);
    const Instance instance(plugin);
    Input input;
    input.bytes = "die";
    const auto result = serve_forked(instance, input);
    EXPECT_EQ(result.crash_signal, SIGABRT);
    EXPECT_FALSE(result.ok());
    EXPECT_NE(result.error.find("signal"), std::string::npos);
    input.bytes = "ok";
    EXPECT_EQ(serve_forked(instance, input).output, "1\n");  // the next request is served
}

}  // namespace
