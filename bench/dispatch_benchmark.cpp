// The cost of calling a handler through the plugin ABI, per request.
//
// Every benchmark serves the same request: 64 bytes in, end of input, with the echo
// plugin's exact handle() (read, write, flush, between_requests, read to the end: five host
// calls). The request is in memory (no socket), so what differs is only the path:
//
//   DirectCall           the echo handle() compiled into this program, called directly
//                        on the host's Request: no plugin boundary at all
//   PluginHandle         PluginHandler::handle -> the plugin's C entry -> the SDK's C++
//                        sugar -> five calls back through the host function table
//   LifecycleCppHandler  run_request() (setup, handle, finish, completion) with the same
//                        handle() as a C++ Handler composed in-process
//   LifecyclePlugin      run_request() with the plugin: what a server loop does per request
//   LifecyclePluginCounted      the same, counted in a listener's metrics (request_tally.hpp:
//                        two clock reads, the gauge, bytes, outcome and duration bucket)
//   LifecyclePluginAccessLogged the same, counted and with an access log line (to /dev/null)
//
// PluginHandle - DirectCall is the dispatch overhead per request; LifecyclePluginCounted -
// LifecyclePlugin is what metrics cost per request, and LifecyclePluginAccessLogged -
// LifecyclePluginCounted what the access log adds.
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/shared/worker_metrics.hpp>
#include <sockhost/host/worker/access_log.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/plugin/plugin_loader.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

// A request never waits: the input is all there.
class NeverWaits final : public sockhost::IoWaiter {
public:
    sockhost::WaitResult wait_for(int, short, std::optional<sockhost::Clock::time_point>, bool) override {
        return sockhost::WaitResult::ready;
    }
    sockhost::WaitResult sleep_until(sockhost::Clock::time_point) override { return sockhost::WaitResult::ready; }
    bool stopping() const override { return false; }
};

// A stream request over a string: reads give the input then end of input; output is counted.
class MemoryRequest final : public sockhost::Request {
public:
    MemoryRequest(std::string_view input, sockhost::IoWaiter &waiter)
        : Request(sockhost::Transport::tcp, sockhost::SocketAddress{}, sockhost::SocketAddress{}, waiter, 0ms),
          input_(input) {}

    bool flush() override {
        flushed_ += queued_;
        queued_ = 0;
        return true;
    }
    bool complete() override { return flush(); }
    std::size_t flushed() const { return flushed_; }

protected:
    std::int64_t receive(char *buffer, std::size_t capacity, bool) override {
        const std::size_t count = std::min(capacity, input_.size() - position_);
        std::memcpy(buffer, input_.data() + position_, count);
        position_ += count;
        return static_cast<std::int64_t>(count);
    }
    bool queue_output(const char *, std::size_t length) override {
        queued_ += length;
        return true;
    }

private:
    std::string_view input_;
    std::size_t position_ = 0;
    std::size_t queued_ = 0;
    std::size_t flushed_ = 0;
};

// plugins/echo's handle(), against the host's Request directly (same buffer, same calls).
constexpr std::size_t kChunkBytes = 64 * 1024;
sockhost_status echo_direct(sockhost::Request &request) {
    const auto chunk = std::make_unique_for_overwrite<char[]>(kChunkBytes);
    for (;;) {
        const std::int64_t count = request.read(chunk.get(), kChunkBytes);
        if (count < 0) return SOCKHOST_ERROR;
        if (count == 0) return SOCKHOST_OK;
        if (!request.write(chunk.get(), static_cast<std::size_t>(count))) return SOCKHOST_ERROR;
        if (!request.flush()) return SOCKHOST_ERROR;
        request.mark_between_requests();
    }
}

class DirectEchoHandler final : public sockhost::Handler {
public:
    std::string_view name() const override { return "echo (in-process)"; }
    sockhost_status handle(sockhost::Request &request) override { return echo_direct(request); }
};

const std::string kInput(64, 'x');
NeverWaits waiter;

sockhost::PluginHandler &echo_plugin() {
    static std::unique_ptr<sockhost::PluginHandler> handler = [] {
        const char *override_path = std::getenv("SOCKHOST_BENCH_PLUGIN");
        const std::string path = override_path != nullptr ? override_path : SOCKHOST_PLUGIN_DIR "/echo.so";
        auto plugin = sockhost::LoadedPlugin::load(path);
        if (!plugin) {
            std::fprintf(stderr, "%s\n", plugin.error().message.c_str());
            std::exit(2);
        }
        auto created = sockhost::PluginHandler::create(*plugin, "{}");
        if (!created || !(*created)->process_init()) {
            std::fprintf(stderr, "%s: cannot create an instance\n", path.c_str());
            std::exit(2);
        }
        return std::move(*created);
    }();
    return *handler;
}

void check_echoed(benchmark::State &state, const MemoryRequest &request) {
    if (request.flushed() != kInput.size()) state.SkipWithError("the handler did not echo the request");
}

void DirectCall(benchmark::State &state) {
    for (auto _ : state) {
        MemoryRequest request(kInput, waiter);
        benchmark::DoNotOptimize(echo_direct(request));
        check_echoed(state, request);
    }
}

void PluginHandle(benchmark::State &state) {
    auto &plugin = echo_plugin();
    for (auto _ : state) {
        MemoryRequest request(kInput, waiter);
        benchmark::DoNotOptimize(plugin.handle(request));
        check_echoed(state, request);
    }
}

void LifecycleCppHandler(benchmark::State &state) {
    DirectEchoHandler handler;
    for (auto _ : state) {
        MemoryRequest request(kInput, waiter);
        benchmark::DoNotOptimize(sockhost::run_request(handler, request));
        check_echoed(state, request);
    }
}

void LifecyclePlugin(benchmark::State &state) {
    auto &plugin = echo_plugin();
    for (auto _ : state) {
        MemoryRequest request(kInput, waiter);
        benchmark::DoNotOptimize(sockhost::run_request(plugin, request));
        check_echoed(state, request);
    }
}

// A listener's counters, as a worker's metrics table holds them.
sockhost::ListenerCounters counters{};

void LifecyclePluginCounted(benchmark::State &state) {
    auto &plugin = echo_plugin();
    const sockhost::ListenerAccounting accounting{&counters, nullptr, "tcp://127.0.0.1:0", "echo"};
    for (auto _ : state) {
        MemoryRequest request(kInput, waiter);
        request.tally().start(&accounting, true, true);
        benchmark::DoNotOptimize(sockhost::run_request(plugin, request));
        check_echoed(state, request);
    }
}

void LifecyclePluginAccessLogged(benchmark::State &state) {
    auto &plugin = echo_plugin();
    sockhost::set_log_threshold(sockhost::LogLevel::error);  // its drop warnings are expected here
    auto log = sockhost::AccessLog::open("/dev/null", "tcp://127.0.0.1:0");
    if (!log) {
        state.SkipWithError(log.error().message.c_str());
        return;
    }
    const sockhost::ListenerAccounting accounting{&counters, log->get(), "tcp://127.0.0.1:0", "echo"};
    for (auto _ : state) {
        MemoryRequest request(kInput, waiter);
        request.tally().start(&accounting, true, true);
        benchmark::DoNotOptimize(sockhost::run_request(plugin, request));
        check_echoed(state, request);
    }
    // A line dropped (the writer fell behind) is cheaper than one queued: say how many.
    state.counters["dropped_lines"] = static_cast<double>((*log)->dropped());
}

}  // namespace

BENCHMARK(DirectCall);
BENCHMARK(PluginHandle);
BENCHMARK(LifecycleCppHandler);
BENCHMARK(LifecyclePlugin);
BENCHMARK(LifecyclePluginCounted);
BENCHMARK(LifecyclePluginAccessLogged);
BENCHMARK_MAIN();
