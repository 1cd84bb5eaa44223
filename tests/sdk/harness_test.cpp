// The harness itself (sockhost/testing.hpp), driven by a plugin written against the bare C
// ABI, so that these tests do not depend on plugin.hpp.
#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::run;

// What the scripted plugin's hooks do; reset before each test.
struct Script {
    sockhost_status create = SOCKHOST_OK;
    sockhost_status process_init = SOCKHOST_OK;
    bool verify = true;
    sockhost_status setup = SOCKHOST_OK;
    sockhost_status handle = SOCKHOST_OK;
    sockhost_status finish = SOCKHOST_OK;
    std::function<void(const sockhost_host_api &, sockhost_request *)> handle_body;
    sockhost_status export_state = SOCKHOST_OK;
    std::string exported;  // what export_state gives; the plugin's buffer, kept between calls
    sockhost_status import_state = SOCKHOST_OK;
    std::string imported;  // what import_state was given
};

Script script;
std::vector<std::string> calls;
const sockhost_host_api *host = nullptr;
sockhost_plugin_descriptor descriptor{};

sockhost_status scripted_create(const char *, void **instance, char *error, size_t capacity) {
    calls.push_back("create");
    host->log(nullptr, SOCKHOST_LOG_INFO, "creating");
    *instance = &script;
    if (script.create != SOCKHOST_OK) std::snprintf(error, capacity, "%s", "no such option 'x'");
    return script.create;
}
void scripted_destroy(void *) { calls.push_back("destroy"); }
sockhost_status scripted_process_init(void *) {
    calls.push_back("process_init");
    return script.process_init;
}
bool scripted_verify(void *, sockhost_request *) {
    calls.push_back("verify");
    return script.verify;
}
sockhost_status scripted_setup(void *, sockhost_request *) {
    calls.push_back("setup");
    return script.setup;
}
sockhost_status scripted_handle(void *, sockhost_request *request) {
    calls.push_back("handle");
    if (script.handle_body) script.handle_body(*host, request);
    return script.handle;
}
sockhost_status scripted_finish(void *, sockhost_request *) {
    calls.push_back("finish");
    return script.finish;
}

sockhost_status scripted_export_state(void *, const void **data, size_t *length) {
    calls.push_back("export_state");
    if (script.export_state != SOCKHOST_OK) {
        host->log(nullptr, SOCKHOST_LOG_ERROR, "export_state failed: out of memory");
        return script.export_state;
    }
    *data = script.exported.data();
    *length = script.exported.size();
    return SOCKHOST_OK;
}
sockhost_status scripted_import_state(void *, const void *data, size_t length, char *error, size_t capacity) {
    calls.push_back("import_state");
    script.imported.assign(static_cast<const char *>(data), length);
    if (script.import_state != SOCKHOST_OK) std::snprintf(error, capacity, "%s", "state version 9 is unknown");
    return script.import_state;
}

const sockhost_plugin_descriptor *scripted_entry(const sockhost_host_api *api) {
    host = api;
    return &descriptor;
}

class HarnessTest : public ::testing::Test {
protected:
    void SetUp() override {
        script = Script{};
        calls.clear();
        descriptor = sockhost_plugin_descriptor{};
        descriptor.struct_size = sizeof descriptor;
        descriptor.abi_major = SOCKHOST_ABI_MAJOR;
        descriptor.abi_minor = SOCKHOST_ABI_MINOR;
        descriptor.name = "scripted";
        descriptor.version = "1";
        descriptor.transports = SOCKHOST_TRANSPORTS_ALL;
        descriptor.create = &scripted_create;
        descriptor.destroy = &scripted_destroy;
        descriptor.process_init = &scripted_process_init;
        descriptor.verify = &scripted_verify;
        descriptor.setup = &scripted_setup;
        descriptor.handle = &scripted_handle;
        descriptor.finish = &scripted_finish;
    }

    // The same plugin, opted in to reloads that keep connections and state (ABI 1.2).
    static void opt_in_to_handoff() {
        descriptor.handoff = SOCKHOST_HANDOFF_CONNECTIONS;
        descriptor.export_state = &scripted_export_state;
        descriptor.import_state = &scripted_import_state;
    }

    // Runs `body` as the handle hook on `input`.
    sockhost::sdk::testing::RunResult handle_with(
        Input input, std::function<void(const sockhost_host_api &, sockhost_request *)> body) {
        script.handle_body = std::move(body);
        return run(Plugin(&scripted_entry), "{}", input);
    }
};

const std::vector<std::string> kFullLifecycle = {"create", "process_init", "verify", "setup",
                                                 "handle", "finish",       "destroy"};

TEST_F(HarnessTest, RunsEveryHookInLifecycleOrder) {
    const auto result = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(calls, kFullLifecycle);
    EXPECT_EQ(result.hooks, kFullLifecycle);
    EXPECT_EQ(result.create, SOCKHOST_OK);
    EXPECT_EQ(result.process_init, SOCKHOST_OK);
    EXPECT_EQ(result.verify, true);
    EXPECT_EQ(result.setup, SOCKHOST_OK);
    EXPECT_EQ(result.handle, SOCKHOST_OK);
    EXPECT_EQ(result.finish, SOCKHOST_OK);
    EXPECT_TRUE(result.ok());
}

TEST_F(HarnessTest, FinishRunsAfterAFailedHandle) {
    script.handle = SOCKHOST_ERROR;
    const auto result = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(calls, kFullLifecycle);
    EXPECT_EQ(result.handle, SOCKHOST_ERROR);
    EXPECT_EQ(result.finish, SOCKHOST_OK);
    EXPECT_FALSE(result.ok());
}

TEST_F(HarnessTest, NoHandleNorFinishAfterAFailedSetup) {
    script.setup = SOCKHOST_ERROR;
    const auto result = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(calls, (std::vector<std::string>{"create", "process_init", "verify", "setup", "destroy"}));
    EXPECT_EQ(result.setup, SOCKHOST_ERROR);
    EXPECT_FALSE(result.handle.has_value());
    EXPECT_FALSE(result.finish.has_value());
    EXPECT_FALSE(result.ok());
}

TEST_F(HarnessTest, ARefusedVerifySkipsTheRequestHooks) {
    script.verify = false;
    const auto result = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(calls, (std::vector<std::string>{"create", "process_init", "verify", "destroy"}));
    EXPECT_EQ(result.verify, false);
    EXPECT_FALSE(result.ok());
}

TEST_F(HarnessTest, AFailedCreateStopsBeforeDestroy) {
    script.create = SOCKHOST_ERROR;
    const auto result = run(Plugin(&scripted_entry), "{\"x\":1}", Input{});
    EXPECT_EQ(calls, std::vector<std::string>{"create"});
    EXPECT_EQ(result.create, SOCKHOST_ERROR);
    EXPECT_EQ(result.create_error, "no such option 'x'");
    EXPECT_FALSE(result.ok());
}

TEST_F(HarnessTest, AFailedProcessInitIsDestroyedWithoutServing) {
    script.process_init = SOCKHOST_ERROR;
    const auto result = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(calls, (std::vector<std::string>{"create", "process_init", "destroy"}));
    EXPECT_EQ(result.process_init, SOCKHOST_ERROR);
    EXPECT_FALSE(result.handle.has_value());
}

TEST_F(HarnessTest, AbsentOptionalHooksAreSkipped) {
    descriptor.create = nullptr;
    descriptor.destroy = nullptr;
    descriptor.process_init = nullptr;
    descriptor.verify = nullptr;
    descriptor.setup = nullptr;
    descriptor.finish = nullptr;
    const auto result = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(calls, std::vector<std::string>{"handle"});
    EXPECT_EQ(result.hooks, std::vector<std::string>{"handle"});
    EXPECT_FALSE(result.verify.has_value());
    EXPECT_TRUE(result.ok());
}

TEST_F(HarnessTest, RefusesDescriptorsTheHostWouldRefuse) {
    descriptor.abi_major = SOCKHOST_ABI_MAJOR + 1;
    EXPECT_THROW(Plugin{&scripted_entry}, std::runtime_error);
    descriptor.abi_major = SOCKHOST_ABI_MAJOR;
    descriptor.abi_minor = SOCKHOST_ABI_MINOR + 1;
    try {
        Plugin plugin(&scripted_entry);
        FAIL() << "a newer minor was accepted";
    } catch (const std::runtime_error &error) {
        const std::string expected = "plugin needs a newer host: plugin ABI 1." + std::to_string(SOCKHOST_ABI_MINOR + 1) +
                                     ", host ABI 1." + std::to_string(SOCKHOST_ABI_MINOR);
        EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
    descriptor.abi_minor = 0;  // built against 1.0: still served
    EXPECT_NO_THROW(Plugin{&scripted_entry});
    descriptor.abi_minor = SOCKHOST_ABI_MINOR;
    descriptor.handle = nullptr;
    EXPECT_THROW(Plugin{&scripted_entry}, std::runtime_error);
    descriptor.handle = &scripted_handle;
    descriptor.struct_size = 8;
    EXPECT_THROW(Plugin{&scripted_entry}, std::runtime_error);
}

TEST_F(HarnessTest, RefusesUnknownHandoffBitsOnlyWhereTheDescriptorHasThem) {
    descriptor.handoff = SOCKHOST_HANDOFF_CONNECTIONS | 0x10u;
    try {
        Plugin plugin(&scripted_entry);
        FAIL() << "unknown handoff bits were accepted";
    } catch (const std::runtime_error &error) {
        EXPECT_NE(std::string(error.what()).find("descriptor handoff 17 has unknown bits"), std::string::npos)
            << error.what();
    }
    // A descriptor built against 1.1 ends before `handoff`: what lies there is not read.
    descriptor.struct_size = offsetof(sockhost_plugin_descriptor, handoff);
    descriptor.abi_minor = 1;
    const Plugin older(&scripted_entry);
    EXPECT_FALSE(Instance(older).hands_off_connections());
}

TEST_F(HarnessTest, NamesTheFileThatFailsToLoad) {
    try {
        Plugin plugin(std::filesystem::path("/nonexistent/plugin.so"));
        FAIL() << "a missing file loaded";
    } catch (const std::runtime_error &error) {
        EXPECT_NE(std::string(error.what()).find("/nonexistent/plugin.so"), std::string::npos);
    }
}

TEST_F(HarnessTest, RefusesATransportThePluginDoesNotServe) {
    descriptor.transports = SOCKHOST_TRANSPORT_TCP;
    Plugin plugin(&scripted_entry);
    Instance instance(plugin);
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UDP;
    EXPECT_THROW(instance.serve(input), std::logic_error);
}

TEST_F(HarnessTest, ReadGivesTheInputThenEndOfInput) {
    Input input;
    input.bytes = "abcdefg";
    input.max_read_bytes = 3;
    std::vector<std::int64_t> counts;
    std::string seen;
    const auto result = handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[16];
        for (;;) {
            const std::int64_t count = api.read(request, buffer, sizeof buffer);
            counts.push_back(count);
            if (count <= 0) break;
            seen.append(buffer, static_cast<std::size_t>(count));
        }
    });
    EXPECT_EQ(seen, "abcdefg");
    EXPECT_EQ(counts, (std::vector<std::int64_t>{3, 3, 1, 0}));
    EXPECT_EQ(result.bytes_read, 7u);
}

TEST_F(HarnessTest, ReadFailsWithTheGivenReasonInsteadOfEndOfInput) {
    Input input;
    input.bytes = "ab";
    input.read_error = "timed out";
    std::int64_t last = 1;
    std::string reason;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[16];
        while ((last = api.read(request, buffer, sizeof buffer)) > 0) {}
        reason = api.last_error(request);
    });
    EXPECT_EQ(last, -1);
    EXPECT_EQ(reason, "timed out");
}

TEST_F(HarnessTest, ReadLineFollowsPluginH) {
    Input input;
    input.bytes = "one\nlonger line\nend";  // the last line has no '\n'
    std::vector<std::int64_t> counts;
    std::vector<std::string> lines;
    std::string too_long_reason;
    std::vector<std::uint32_t> kinds;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[8];
        counts.push_back(api.read_line(request, buffer, 5));  // "one\n" fits in capacity - 1
        lines.emplace_back(buffer);
        counts.push_back(api.read_line(request, buffer, sizeof buffer));  // 12 bytes: too long
        too_long_reason = api.last_error(request);
        kinds.push_back(api.last_error_kind(request));
        // As the host: none of the line was consumed, so it can be read in pieces.
        counts.push_back(api.read(request, buffer, 7));
        lines.emplace_back(buffer, 7);
    });
    EXPECT_EQ(counts, (std::vector<std::int64_t>{4, -1, 7}));
    EXPECT_EQ(lines, (std::vector<std::string>{"one\n", "longer "}));
    EXPECT_NE(too_long_reason.find("longer than 7 bytes"), std::string::npos) << too_long_reason;
    EXPECT_EQ(kinds, std::vector<std::uint32_t>{SOCKHOST_ERROR_KIND_LINE_TOO_LONG});

    input.bytes = "last";
    counts.clear();
    lines.clear();
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[8] = "xxxxxxx";
        counts.push_back(api.read_line(request, buffer, sizeof buffer));
        lines.emplace_back(buffer);
        counts.push_back(api.read_line(request, buffer, sizeof buffer));
        lines.emplace_back(buffer);  // NUL-terminated even at end of input
        counts.push_back(api.read_line(request, buffer, 0));
    });
    EXPECT_EQ(counts, (std::vector<std::int64_t>{4, 0, -1}));
    EXPECT_EQ(lines, (std::vector<std::string>{"last", ""}));
}

TEST_F(HarnessTest, ReadLineNeedsRoomForTheNul) {
    Input input;
    input.bytes = "abc\n";
    std::int64_t count = 0;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[4];
        count = api.read_line(request, buffer, sizeof buffer);  // 4 bytes + NUL do not fit
    });
    EXPECT_EQ(count, -1);
}

TEST_F(HarnessTest, ReadLineFailsWhenALineNeverEndsBeforeAnError) {
    Input input;
    input.bytes = "partial";
    input.read_error = "connection reset";
    std::int64_t count = 0;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[64];
        count = api.read_line(request, buffer, sizeof buffer);
    });
    EXPECT_EQ(count, -1);
}

// Each failure has the kind the host would give it (ABI 1.4); NONE before any.
TEST_F(HarnessTest, FailuresHaveTheHostsErrorKinds) {
    Input input;
    input.bytes = "ab";
    input.read_error = "connection reset by peer";
    input.read_error_kind = SOCKHOST_ERROR_KIND_PEER_GONE;
    input.write_error = "broken pipe";
    std::vector<std::uint32_t> kinds;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        kinds.push_back(api.last_error_kind(request));
        char buffer[16];
        while (api.read(request, buffer, sizeof buffer) > 0) {}
        kinds.push_back(api.last_error_kind(request));
        api.write(request, "x", 1);
        kinds.push_back(api.last_error_kind(request));
        api.read(request, nullptr, 0);
        kinds.push_back(api.last_error_kind(request));
    });
    EXPECT_EQ(kinds, (std::vector<std::uint32_t>{SOCKHOST_ERROR_KIND_NONE, SOCKHOST_ERROR_KIND_PEER_GONE,
                                                 SOCKHOST_ERROR_KIND_PEER_GONE, SOCKHOST_ERROR_KIND_OTHER}));

    Input stopping;
    stopping.stopping = true;
    std::uint32_t cancelled = SOCKHOST_ERROR_KIND_NONE;
    std::uint32_t timed_out = SOCKHOST_ERROR_KIND_NONE;
    handle_with(stopping, [&](const sockhost_host_api &api, sockhost_request *request) {
        api.sleep_ms(request, 10);
        cancelled = api.last_error_kind(request);
    });
    Input idle;
    idle.read_error = "read timed out after 1000 ms";  // the default kind: a timeout
    handle_with(idle, [&](const sockhost_host_api &api, sockhost_request *request) {
        char line[8];
        api.read_line(request, line, sizeof line);
        timed_out = api.last_error_kind(request);
    });
    EXPECT_EQ(cancelled, SOCKHOST_ERROR_KIND_CANCELLED);
    EXPECT_EQ(timed_out, SOCKHOST_ERROR_KIND_TIMEOUT);
}

// A line already longer than the buffer is too long, as the host says without waiting,
// even when the input would fail after it.
TEST_F(HarnessTest, ALineLongerThanTheBufferIsTooLongBeforeAnyReadError) {
    Input input;
    input.bytes = std::string(40, 'x');  // no '\n' yet
    input.read_error = "read timed out after 1000 ms";
    std::uint32_t kind = SOCKHOST_ERROR_KIND_NONE;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char line[8];
        EXPECT_EQ(api.read_line(request, line, sizeof line), -1);
        kind = api.last_error_kind(request);
    });
    EXPECT_EQ(kind, SOCKHOST_ERROR_KIND_LINE_TOO_LONG);
}

// What set_user_data attached is released when replaced and once at the end, and a
// replacement by the same pointer releases nothing.
int released_values = 0;
void release_counted(void *data) { released_values += *static_cast<int *>(data); }

TEST_F(HarnessTest, UserDataIsReleasedWhenReplacedAndOnceAtTheEnd) {
    released_values = 0;
    int first = 1;
    int second = 10;
    void *seen_in_handle = nullptr;
    const auto result = handle_with(Input{}, [&](const sockhost_host_api &api, sockhost_request *request) {
        EXPECT_EQ(api.user_data(request), nullptr);
        EXPECT_EQ(api.set_user_data(request, &first, &release_counted), SOCKHOST_OK);
        EXPECT_EQ(api.set_user_data(request, &first, &release_counted), SOCKHOST_OK);  // same: kept
        EXPECT_EQ(released_values, 0);
        EXPECT_EQ(api.set_user_data(request, &second, &release_counted), SOCKHOST_OK);
        EXPECT_EQ(released_values, 1);
        seen_in_handle = api.user_data(request);
        EXPECT_EQ(api.set_user_data(nullptr, &first, &release_counted), SOCKHOST_ERROR);
    });
    EXPECT_EQ(seen_in_handle, &second);
    EXPECT_EQ(released_values, 11);
    EXPECT_EQ(result.user_data_releases, 2u);
    EXPECT_TRUE(result.misuse.empty());
}

// A refusal and a failed setup end the request too: what verify attached is released.
bool attach_in_verify(void *, sockhost_request *request) {
    calls.push_back("verify");
    static int one = 1;
    host->set_user_data(request, &one, &release_counted);
    return script.verify;
}

TEST_F(HarnessTest, UserDataIsReleasedAfterARefusalAndAFailedSetup) {
    descriptor.verify = &attach_in_verify;
    released_values = 0;
    script.verify = false;
    const auto refused = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(refused.user_data_releases, 1u);
    script.verify = true;
    script.setup = SOCKHOST_ERROR;
    const auto failed_setup = run(Plugin(&scripted_entry), "{}", Input{});
    EXPECT_EQ(failed_setup.user_data_releases, 1u);
    EXPECT_EQ(released_values, 2);
}

TEST_F(HarnessTest, RecordsWritesFlushesAndWhatStaysUnflushed) {
    const auto result = handle_with(Input{}, [](const sockhost_host_api &api, sockhost_request *request) {
        api.write(request, "ab", 2);
        api.flush(request);
        api.write(request, "cde", 3);
    });
    EXPECT_EQ(result.output, "abcde");
    EXPECT_EQ(result.write_count, 2u);
    EXPECT_EQ(result.flush_count, 1u);
    EXPECT_EQ(result.unflushed_bytes, 3u);
}

TEST_F(HarnessTest, FlushIsANoOpForDatagrams) {
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UNIX_DGRAM;
    const auto result = handle_with(input, [](const sockhost_host_api &api, sockhost_request *request) {
        api.write(request, "reply", 5);
        EXPECT_EQ(api.flush(request), SOCKHOST_OK);
    });
    EXPECT_EQ(result.output, "reply");
    EXPECT_EQ(result.flush_count, 0u);
}

TEST_F(HarnessTest, WritesFailWithTheGivenReason) {
    Input input;
    input.write_error = "broken pipe";
    sockhost_status status = SOCKHOST_OK;
    std::string reason;
    const auto result = handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        status = api.write(request, "x", 1);
        reason = api.last_error(request);
    });
    EXPECT_EQ(status, SOCKHOST_ERROR);
    EXPECT_EQ(reason, "broken pipe");
    EXPECT_EQ(result.output, "");
}

TEST_F(HarnessTest, GivesAddressesAsTextAndSockaddr) {
    Input input;
    input.peer = "[::1]:5000";
    input.local = "unix:(unbound)";
    std::string peer_text;
    int family = 0;
    int port = 0;
    std::size_t local_length = 0;
    handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        peer_text = api.peer_text(request);
        std::size_t length = 0;
        const auto *peer = static_cast<const sockaddr_in6 *>(api.peer_sockaddr(request, &length));
        family = peer->sin6_family;
        port = ntohs(peer->sin6_port);
        api.local_sockaddr(request, &local_length);
    });
    EXPECT_EQ(peer_text, "[::1]:5000");
    EXPECT_EQ(family, AF_INET6);
    EXPECT_EQ(port, 5000);
    EXPECT_EQ(local_length, 2u);  // an unbound Unix address: the family only
}

TEST_F(HarnessTest, RecordsSleepsTimeoutsErrorsAndLogs) {
    Input input;
    input.timeout_ms = 1500;
    input.stopping = true;
    std::uint64_t seen_timeout = 0;
    sockhost_status slept = SOCKHOST_OK;
    const auto result = handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        seen_timeout = api.timeout_ms(request);
        api.set_timeout_ms(request, 250);
        slept = api.sleep_ms(request, 10'000);
        api.log(request, SOCKHOST_LOG_WARNING, "careful");
        api.set_error(request, "it went wrong");
    });
    EXPECT_EQ(seen_timeout, 1500u);
    EXPECT_EQ(result.timeout_ms, 250u);
    EXPECT_EQ(slept, SOCKHOST_ERROR);
    EXPECT_EQ(result.sleeps_ms, std::vector<std::uint64_t>{10'000});
    EXPECT_EQ(result.error, "it went wrong");
    ASSERT_EQ(result.log.size(), 2u);
    EXPECT_EQ(result.log[0].message, "creating");  // logged by create, with no request
    EXPECT_EQ(result.log[0].peer, "");
    EXPECT_EQ(result.log[1].message, "careful");
    EXPECT_EQ(result.log[1].level, SOCKHOST_LOG_WARNING);
    EXPECT_EQ(result.log[1].peer, "127.0.0.1:40000");
}

TEST_F(HarnessTest, StoppingIsFalseUntilTheInputSaysTheHostIsDraining) {
    auto ask = [&](Input input) {
        std::vector<bool> answers;
        std::vector<sockhost_status> sleeps;
        const auto result = handle_with(std::move(input), [&](const sockhost_host_api &api, sockhost_request *request) {
            char buffer[16];
            answers.push_back(api.stopping(request));
            while (api.read(request, buffer, sizeof buffer) > 0) answers.push_back(api.stopping(request));
            sleeps.push_back(api.sleep_ms(request, 5));
        });
        return std::tuple(answers, sleeps, result.stopping_seen_at);
    };
    Input serving;
    serving.bytes = "abc";
    EXPECT_EQ(ask(serving), std::tuple(std::vector<bool>{false, false}, std::vector{SOCKHOST_OK},
                                       std::vector<std::size_t>{}));
    // Draining: the request is still served (its sleeps succeed).
    Input draining = serving;
    draining.draining = true;
    EXPECT_EQ(ask(draining), std::tuple(std::vector<bool>{true, true}, std::vector{SOCKHOST_OK},
                                        std::vector<std::size_t>{0, 3}));
    // The drain begins once 3 bytes are read.
    Input later = serving;
    later.bytes = "abcdef";
    later.max_read_bytes = 3;
    later.draining_after_bytes_read = 3;
    EXPECT_EQ(ask(later), std::tuple(std::vector<bool>{false, true, true}, std::vector{SOCKHOST_OK},
                                     std::vector<std::size_t>{3, 6}));
    // Past the drain deadline the host cancels the request: stopping, and sleeps fail.
    Input cancelled = serving;
    cancelled.stopping = true;
    EXPECT_EQ(ask(cancelled), std::tuple(std::vector<bool>{true, true}, std::vector{SOCKHOST_ERROR},
                                         std::vector<std::size_t>{0, 3}));
}

TEST_F(HarnessTest, ReportsARequestUsedFromAnotherThread) {
    const auto result = handle_with(Input{}, [](const sockhost_host_api &api, sockhost_request *request) {
        std::thread([&] { api.write(request, "x", 1); }).join();
    });
    ASSERT_EQ(result.misuse.size(), 1u);
    EXPECT_NE(result.misuse[0].find("write"), std::string::npos);
    EXPECT_EQ(result.output, "");
}

}  // namespace

namespace {

// --- Reloads (ABI 1.2): handoff state, a connection moved, export and import. ---

TEST_F(HarnessTest, SetHandoffStateKeepsACopyUpToTheBound) {
    opt_in_to_handoff();
    Input input;
    input.bytes = "abc";
    std::vector<sockhost_status> statuses;
    std::string reason;
    const auto result = handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char buffer[2];
        api.read(request, buffer, sizeof buffer);
        std::string login = "login=ann";
        statuses.push_back(api.set_handoff_state(request, login.data(), login.size()));
        login = "overwritten";  // the host copied it
        const std::string largest(SOCKHOST_HANDOFF_STATE_MAX, 'x');
        statuses.push_back(api.set_handoff_state(request, largest.data(), largest.size()));
        statuses.push_back(api.set_handoff_state(request, "db=2", 4));
        const std::string too_large(SOCKHOST_HANDOFF_STATE_MAX + 1, 'y');
        statuses.push_back(api.set_handoff_state(request, too_large.data(), too_large.size()));
        reason = api.last_error(request);
    });
    EXPECT_EQ(statuses, (std::vector{SOCKHOST_OK, SOCKHOST_OK, SOCKHOST_OK, SOCKHOST_ERROR}));
    EXPECT_EQ(result.handoff_state, "db=2");  // the refused one left it unchanged
    EXPECT_EQ(result.handoff_state_set_at, (std::vector<std::size_t>{2, 2, 2}));
    EXPECT_NE(reason.find("16385 bytes, more than 16384"), std::string::npos) << reason;
    EXPECT_TRUE(result.misuse.empty());
}

TEST_F(HarnessTest, SetHandoffStateOfNothingAttachesNone) {
    const auto result = handle_with(Input{}, [&](const sockhost_host_api &api, sockhost_request *request) {
        api.set_handoff_state(request, "user=bo", 7);
        EXPECT_EQ(api.set_handoff_state(request, nullptr, 0), SOCKHOST_OK);
    });
    EXPECT_EQ(result.handoff_state, "");
    EXPECT_EQ(result.handoff_state_set_at.size(), 2u);
}

TEST_F(HarnessTest, SetHandoffStateFailsForADatagram) {
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UDP;
    sockhost_status status = SOCKHOST_OK;
    std::string reason;
    const auto result = handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        status = api.set_handoff_state(request, "x", 1);
        reason = api.last_error(request);
    });
    EXPECT_EQ(status, SOCKHOST_ERROR);
    EXPECT_NE(reason.find("datagram"), std::string::npos) << reason;
    EXPECT_EQ(result.handoff_state, "");
    EXPECT_TRUE(result.handoff_state_set_at.empty());
}

TEST_F(HarnessTest, HandoffStateIsWhatThePreviousGenerationAttached) {
    // Copied in the hook: the host's bytes are valid for the request only.
    auto state_seen = [&](Input input) {
        std::optional<std::string> seen = "(hook not run)";
        handle_with(std::move(input), [&](const sockhost_host_api &api, sockhost_request *request) {
            std::size_t length = 99;
            const void *data = api.handoff_state(request, &length);
            seen = data == nullptr ? std::optional<std::string>() : std::string(static_cast<const char *>(data), length);
        });
        return seen;
    };
    EXPECT_EQ(state_seen(Input{}), std::nullopt);  // accepted by this generation
    Input handed_over;
    handed_over.handed_over_state = std::string("db=2\0more", 9);
    EXPECT_EQ(state_seen(handed_over), std::string("db=2\0more", 9));
    handed_over.handed_over_state = "";  // handed over with no state attached: not NULL
    EXPECT_EQ(state_seen(handed_over), "");
}

// A line plugin that answers each line and says between_requests: the reload takes the
// connection at the first boundary once 4 bytes are read, with what it has not read.
TEST_F(HarnessTest, AHandOffMovesTheConnectionAtItsNextBetweenRequests) {
    opt_in_to_handoff();
    Input input;
    input.bytes = "one\ntwo\nthree\n";
    input.max_read_bytes = 4;
    input.hand_off_after_bytes_read = 5;
    std::vector<bool> stopping;
    std::int64_t last = 1;
    sockhost_status write_after_move = SOCKHOST_ERROR;
    const auto result = handle_with(input, [&](const sockhost_host_api &api, sockhost_request *request) {
        char line[16];
        while ((last = api.read_line(request, line, sizeof line)) > 0) {
            api.write(request, line, static_cast<std::size_t>(last));
            stopping.push_back(api.stopping(request));
            api.between_requests(request);
        }
        write_after_move = api.write(request, "bye\n", 4);
    });
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(last, 0);  // end of input, as at a close
    EXPECT_EQ(result.output, "one\ntwo\n");  // what was written after the move is dropped
    EXPECT_EQ(write_after_move, SOCKHOST_OK);
    EXPECT_TRUE(result.handed_off);
    EXPECT_EQ(result.handed_off_bytes, "three\n");
    EXPECT_EQ(result.between_requests_at, (std::vector<std::size_t>{4, 8}));
    EXPECT_EQ(stopping, (std::vector<bool>{false, false}));  // a movable connection is not stopping

    input.hand_off_after_bytes_read.reset();  // no reload: served to the end
    const auto served = handle_with(input, script.handle_body);
    EXPECT_FALSE(served.handed_off);
    EXPECT_EQ(served.output, "one\ntwo\nthree\nbye\n");
}

TEST_F(HarnessTest, AHandOffIsOnlyForAStreamOfAPluginThatOptsIn) {
    Input input;
    input.hand_off_after_bytes_read = 0;
    {
        Plugin plugin(&scripted_entry);  // no SOCKHOST_HANDOFF_CONNECTIONS
        Instance instance(plugin);
        EXPECT_FALSE(instance.hands_off_connections());
        EXPECT_THROW(instance.serve(input), std::logic_error);
    }
    opt_in_to_handoff();
    Plugin plugin(&scripted_entry);
    Instance instance(plugin);
    EXPECT_TRUE(instance.hands_off_connections());
    EXPECT_NO_THROW(instance.serve(input));
    input.transport = SOCKHOST_TRANSPORT_UNIX_DGRAM;
    EXPECT_THROW(instance.serve(input), std::logic_error);
}

TEST_F(HarnessTest, ExportsFromOneInstanceAndImportsIntoAnother) {
    opt_in_to_handoff();
    script.exported = std::string("v1\0entries", 10);
    Plugin plugin(&scripted_entry);
    Instance old_generation(plugin);
    old_generation.serve(Input{});  // an old instance exports while it serves
    const auto exported = old_generation.export_state();
    EXPECT_TRUE(exported.ok());
    EXPECT_EQ(exported.state, script.exported);

    Instance new_generation(plugin);
    const auto imported = new_generation.import_state(exported.state);
    EXPECT_TRUE(imported.ok()) << imported.error;
    EXPECT_EQ(script.imported, script.exported);
    EXPECT_EQ(new_generation.hooks(), (std::vector<std::string>{"create", "process_init", "import_state"}));
    EXPECT_EQ(old_generation.hooks(), (std::vector<std::string>{"create", "process_init", "export_state"}));
    EXPECT_TRUE(old_generation.misuse().empty());
}

TEST_F(HarnessTest, ExportAndImportFailuresAreReported) {
    opt_in_to_handoff();
    script.export_state = SOCKHOST_ERROR;
    script.import_state = SOCKHOST_ERROR;
    Plugin plugin(&scripted_entry);
    Instance instance(plugin);
    const auto exported = instance.export_state();
    EXPECT_EQ(exported.status, SOCKHOST_ERROR);
    ASSERT_EQ(exported.log.size(), 1u);
    EXPECT_EQ(exported.log[0].message, "export_state failed: out of memory");

    const auto imported = instance.import_state("v9");
    EXPECT_EQ(imported.status, SOCKHOST_ERROR);
    EXPECT_EQ(imported.error, "state version 9 is unknown");
    EXPECT_FALSE(imported.ok());
}

TEST_F(HarnessTest, WithoutStateHooksNothingIsExportedOrImported) {
    Plugin plugin(&scripted_entry);
    Instance instance(plugin);
    EXPECT_FALSE(instance.export_state().status.has_value());
    EXPECT_FALSE(instance.import_state("anything").status.has_value());
    EXPECT_EQ(std::count(calls.begin(), calls.end(), "export_state"), 0);
}

TEST_F(HarnessTest, ImportsOnlyBeforeTheFirstRequest) {
    opt_in_to_handoff();
    Plugin plugin(&scripted_entry);
    Instance instance(plugin);
    instance.serve(Input{});
    EXPECT_THROW(instance.import_state("late"), std::logic_error);
}

// export_state's bytes stay the plugin's until its next export_state or destroy; the
// harness notices when they change before then.
TEST_F(HarnessTest, ReportsExportedBytesThatChangeBeforeTheNextExport) {
    opt_in_to_handoff();
    script.exported = "first";
    Plugin plugin(&scripted_entry);
    Instance instance(plugin);
    EXPECT_EQ(instance.export_state().state, "first");
    EXPECT_TRUE(instance.misuse().empty());
    script.exported[0] = 'F';  // the same buffer, changed under the host
    EXPECT_EQ(instance.export_state().state, "First");
    ASSERT_EQ(instance.misuse().size(), 1u);
    EXPECT_EQ(instance.misuse()[0], "export_state's bytes changed before the next export_state");
    script.exported[0] = 'f';
    instance.close();
    ASSERT_EQ(instance.misuse().size(), 2u);
    EXPECT_EQ(instance.misuse()[1], "export_state's bytes changed before destroy");
}

}  // namespace
