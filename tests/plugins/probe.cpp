// A plugin for the end-to-end tests: each request's first line is a command, and its
// config switches on failures and hook logging, so tests can watch the lifecycle.
#include <sockhost/plugin.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <vector>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

// One KiB of stack per level, touched so that the compiler can neither drop nor merge it.
[[gnu::noinline]] std::uint64_t recurse(std::uint64_t depth) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    frame[sizeof frame - 1] = 1;
    if (depth == 0) return 0;
    return recurse(depth - 1) + static_cast<std::uint64_t>(frame[sizeof frame - 1]);
}

// One frame of 1 MiB, written at its far (lowest) end only: on a small fiber stack the
// stack pointer jumps over the guard page and the write faults far below it. Built without
// stack probes (CMakeLists.txt), which would touch the guard page on the way down.
[[gnu::noinline]] std::uint64_t huge_frame() {
    volatile char frame[1024 * 1024];
    frame[0] = 1;
    return static_cast<std::uint64_t>(frame[0]);
}

// Long enough for a line that spans several of the host's input reads.
constexpr std::size_t kMaxLine = 64 * 1024;

class Probe {
public:
    explicit Probe(std::string_view config_json) {
        const auto config = nlohmann::json::parse(config_json);
        for (const auto &[key, value] : config.items()) {
            if (key == "log_hooks") log_hooks_ = value.get<bool>();
            else if (key == "fail_setup") fail_setup_ = value.get<bool>();
            else if (key == "fail_handle") fail_handle_ = value.get<bool>();
            else if (key == "refuse") refuse_ = value.get<bool>();
            else if (key == "tag") tag_ = value.get<std::string>();
            else if (key == "init_sleep_ms") init_sleep_ms_ = value.get<int>();
            else if (key == "verify_block_ms") verify_block_ms_ = value.get<int>();
            else throw std::runtime_error("unknown config key '" + key + "'");
        }
    }

    void process_init() {
        // A slow start, for the host's ready_timeout and reload coalescing.
        if (init_sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(init_sleep_ms_));
        if (log_hooks_) sockhost::sdk::log(SOCKHOST_LOG_INFO, ("probe process_init in pid " + std::to_string(::getpid())).c_str());
    }

    bool verify(sockhost::sdk::Request &request) {
        trace(request, "verify");
        // A blocking call in verify, which runs on the listener's accepting loop.
        if (verify_block_ms_ > 0) ::usleep(static_cast<useconds_t>(verify_block_ms_) * 1000);
        return !refuse_;
    }

    void setup(sockhost::sdk::Request &request) {
        trace(request, "setup");
        if (fail_setup_) throw std::runtime_error("deliberate setup failure");
    }

    void handle(sockhost::sdk::Request &request) {
        trace(request, "handle");
        if (fail_handle_) throw std::runtime_error("deliberate handle failure");
        for (std::string line = request.read_line(kMaxLine); !line.empty(); line = request.read_line(kMaxLine)) {
            while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
            run(request, line);
            request.flush();
            if (request.is_datagram()) break;
            request.between_requests();
        }
    }

    void finish(sockhost::sdk::Request &request) { trace(request, "finish"); }

private:
    void trace(sockhost::sdk::Request &request, const char *hook) {
        if (log_hooks_) request.log(SOCKHOST_LOG_INFO, "probe " + tag_ + " hook " + hook);
    }

    void run(sockhost::sdk::Request &request, const std::string &line) {
        std::istringstream words(line);
        std::string command;
        words >> command;
        if (command == "echo") {
            std::string rest;
            std::getline(words >> std::ws, rest);
            request.write(rest + "\n");
        } else if (command == "pid") {
            request.write(std::to_string(::getpid()) + "\n");
        } else if (command == "whoami") {
            // Every address function of the host table, as one line.
            std::size_t peer_length = 0, local_length = 0;
            request.host()->peer_sockaddr(request.raw(), &peer_length);
            request.host()->local_sockaddr(request.raw(), &local_length);
            request.write(std::string(request.peer()) + " " + std::string(request.local()) + " " +
                          std::to_string(request.transport()) + " " + std::to_string(peer_length) + " " +
                          std::to_string(local_length) + " " + std::to_string(request.timeout_ms()) + "\n");
        } else if (command == "timeout") {
            std::uint64_t milliseconds = 0;
            words >> milliseconds;
            request.set_timeout_ms(milliseconds);
            request.write("timeout " + std::to_string(request.timeout_ms()) + "\n");
        } else if (command == "tag") {
            request.write(tag_ + "\n");
        } else if (command == "sleep") {
            std::uint64_t milliseconds = 0;
            words >> milliseconds;
            // Logged once the command is read: a test that stops or reloads the host "while
            // the request sleeps" waits for this line, not for the handle hook (which runs
            // before the command arrives).
            if (log_hooks_) request.log(SOCKHOST_LOG_INFO, "probe " + tag_ + " sleeping " + std::to_string(milliseconds) + " ms");
            request.sleep_ms(milliseconds);
            request.write("slept\n");
        } else if (command == "spin" || command == "block") {
            // Holds the thread for N ms without a host call: a CPU loop, or a blocking
            // system call (usleep, not the host's sleep), as a careless plugin would.
            std::uint64_t milliseconds = 0;
            words >> milliseconds;
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(milliseconds);
            if (command == "block") {
                for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now())
                    ::usleep(static_cast<useconds_t>(std::chrono::duration_cast<std::chrono::microseconds>(until - now).count()));
            } else {
                for (volatile std::uint64_t turns = 0; std::chrono::steady_clock::now() < until;) turns = turns + 1;
            }
            request.write(command + " " + std::to_string(milliseconds) + "\n");
        } else if (command == "big") {
            std::size_t bytes = 0;
            words >> bytes;
            std::string block(1 << 16, '\0');
            for (std::size_t index = 0; index < block.size(); ++index) block[index] = static_cast<char>('a' + index % 26);
            for (std::size_t sent = 0; sent < bytes; sent += block.size())
                request.write(std::string_view(block).substr(0, std::min(block.size(), bytes - sent)));
        } else if (command == "rendezvous") {
            rendezvous(request, words);
        } else if (command == "hang") {
            hang(request, words);
        } else if (command == "silent") {
        } else if (command == "crash") {
            std::abort();
        } else if (command == "recurse") {
            // Uses about `depth` KiB of stack: beyond the fiber's stack, the guard page.
            std::uint64_t depth = 0;
            words >> depth;
            request.write("recursed " + std::to_string(recurse(depth)) + "\n");
        } else if (command == "spin-forever") {
            // A plugin that never returns: says so, then loops without a host call.
            request.write("spinning\n");
            request.flush();
            for (;;) asm volatile("" ::: "memory");
        } else if (command == "leak") {
            // Keeps `megabytes` MiB, written to (resident), for the life of the process.
            std::size_t megabytes = 0;
            words >> megabytes;
            static std::vector<std::unique_ptr<char[]>> kept;
            kept.push_back(std::make_unique<char[]>(megabytes << 20));
            std::memset(kept.back().get(), 1, megabytes << 20);
            request.write("leaked " + std::to_string(megabytes) + "\n");
        } else if (command == "huge-frame") {
            request.write("huge frame " + std::to_string(huge_frame()) + "\n");
        } else {
            throw std::runtime_error("unknown command '" + command + "'");
        }
    }

    // Waits until two requests are in this handler at once (files in `dir`), or gives up.
    // Replies "overlap" or "alone": concurrency shown without timing the requests.
    void rendezvous(sockhost::sdk::Request &request, std::istringstream &words) {
        std::string dir;
        std::uint64_t patience_ms = 0;
        words >> dir >> patience_ms;
        static std::atomic<int> sequence{0};
        const auto mine = std::filesystem::path(dir) /
                          (std::to_string(::getpid()) + "-" + std::to_string(sequence.fetch_add(1)));
        std::ofstream(mine).put('x');
        bool met = false;
        for (std::uint64_t waited = 0; waited <= patience_ms && !met; waited += 10) {
            const auto count = std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator());
            met = count >= 2;
            if (!met) request.sleep_ms(10);
        }
        request.write(met ? "overlap\n" : "alone\n");
        request.flush();
        // Stay a little so the other request also sees both files before this one leaves.
        if (met) request.sleep_ms(200);
        std::filesystem::remove(mine);
    }

    // A request that never ends and never asks the host, so neither the stop nor the
    // cancel ends it: only a signal does. "hang ignoring-sigterm" outlives SIGTERM too (for
    // a request child: in a worker's own thread it would discard the worker's SIGTERM).
    [[noreturn]] static void hang(sockhost::sdk::Request &request, std::istringstream &words) {
        std::string how;
        words >> how;
        if (how == "ignoring-sigterm") std::signal(SIGTERM, SIG_IGN);
        request.write("hanging\n");
        request.flush();
        for (;;) ::pause();
    }

    bool log_hooks_ = false;
    bool fail_setup_ = false;
    bool fail_handle_ = false;
    bool refuse_ = false;
    int init_sleep_ms_ = 0;
    int verify_block_ms_ = 0;
    std::string tag_ = "-";
};

}  // namespace

SOCKHOST_PLUGIN(Probe, "probe", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
