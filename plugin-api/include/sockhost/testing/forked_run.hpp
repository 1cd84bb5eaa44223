// Forking mode's semantics in a unit test: verify in the parent, then process_init, setup,
// handle and finish in a real fork()ed child whose changes to the instance are lost when it
// ends. The result comes back over a pipe; a child killed by a signal is a result too.
#ifndef SOCKHOST_TESTING_FORKED_RUN_HPP
#define SOCKHOST_TESTING_FORKED_RUN_HPP

#include <sockhost/testing/instance.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace sockhost::sdk::testing {

// serve_forked(): the request's result plus how its child ended.
struct ForkedResult : RequestResult {
    std::optional<sockhost_status> child_process_init;  // process_init run again in the child
    std::optional<int> crash_signal;                     // the signal that killed the child
};

namespace detail {

// Length-prefixed fields: the child's result as bytes, and back.
struct ResultWire {
    std::string bytes;
    std::size_t at = 0;
    void put(std::uint64_t v) { bytes.append(reinterpret_cast<const char *>(&v), sizeof v); }
    void put(const std::string &s) { put(s.size()); bytes += s; }
    void put(const std::optional<sockhost_status> &s) { put(s ? std::uint64_t(*s) + 1 : 0); }
    std::uint64_t number() {
        std::uint64_t v = 0;
        if (at + sizeof v > bytes.size()) throw std::runtime_error("forked request: truncated result");
        std::memcpy(&v, bytes.data() + at, sizeof v);
        at += sizeof v;
        return v;
    }
    std::string text() {
        const std::uint64_t n = number();
        if (at + n > bytes.size()) throw std::runtime_error("forked request: truncated result");
        std::string s = bytes.substr(at, n);
        at += n;
        return s;
    }
    std::optional<sockhost_status> status() {
        const std::uint64_t v = number();
        if (v == 0) return std::nullopt;
        return static_cast<sockhost_status>(v - 1);
    }
};

inline void encode(ResultWire &w, const ForkedResult &r) {
    w.put(r.child_process_init);
    w.put(r.setup);
    w.put(r.handle);
    w.put(r.finish);
    w.put(r.hooks.size());
    for (const auto &h : r.hooks) w.put(h);
    w.put(r.output);
    w.put(r.output_at.size());
    for (const auto &o : r.output_at) {
        w.put(o.at_ms);
        w.put(o.bytes);
    }
    w.put(r.elapsed_ms);
    w.put(r.write_count);
    w.put(r.flush_count);
    w.put(r.unflushed_bytes);
    w.put(r.bytes_read);
    w.put(r.between_requests_at.size());
    for (auto at : r.between_requests_at) w.put(at);
    w.put(r.stopping_seen_at.size());
    for (auto at : r.stopping_seen_at) w.put(at);
    w.put(r.handoff_state);
    w.put(r.handoff_state_set_at.size());
    for (auto at : r.handoff_state_set_at) w.put(at);
    w.put(std::uint64_t{r.handed_off ? 1u : 0u});
    w.put(r.handed_off_bytes);
    w.put(r.error);
    w.put(r.user_data_releases);
    w.put(r.log.size());
    for (const auto &l : r.log) {
        w.put(std::uint64_t(l.level));
        w.put(l.message);
        w.put(l.peer);
    }
    w.put(r.sleeps_ms.size());
    for (auto s : r.sleeps_ms) w.put(s);
    w.put(r.timeout_ms);
    w.put(r.misuse.size());
    for (const auto &m : r.misuse) w.put(m);
}

inline void decode(ResultWire &w, ForkedResult &r) {
    r.child_process_init = w.status();
    r.setup = w.status();
    r.handle = w.status();
    r.finish = w.status();
    for (auto n = w.number(); n > 0; --n) r.hooks.push_back(w.text());
    r.output = w.text();
    for (auto n = w.number(); n > 0; --n) {
        TimedOutput o;
        o.at_ms = w.number();
        o.bytes = w.text();
        r.output_at.push_back(std::move(o));
    }
    r.elapsed_ms = w.number();
    r.write_count = w.number();
    r.flush_count = w.number();
    r.unflushed_bytes = w.number();
    r.bytes_read = w.number();
    for (auto n = w.number(); n > 0; --n) r.between_requests_at.push_back(w.number());
    for (auto n = w.number(); n > 0; --n) r.stopping_seen_at.push_back(w.number());
    r.handoff_state = w.text();
    for (auto n = w.number(); n > 0; --n) r.handoff_state_set_at.push_back(w.number());
    r.handed_off = w.number() != 0;
    r.handed_off_bytes = w.text();
    r.error = w.text();
    r.user_data_releases = w.number();
    for (auto n = w.number(); n > 0; --n) {
        LogLine line;
        line.level = static_cast<sockhost_log_level>(w.number());
        line.message = w.text();
        line.peer = w.text();
        r.log.push_back(std::move(line));
    }
    for (auto n = w.number(); n > 0; --n) r.sleeps_ms.push_back(w.number());
    r.timeout_ms = w.number();
    for (auto n = w.number(); n > 0; --n) r.misuse.push_back(w.text());
}

}  // namespace detail

// One request as the forking mode serves it: verify here, the rest in a child that runs
// process_init first and ends with _exit (never destroy). Whatever the child changed in the
// instance is gone afterwards. Throws std::logic_error as Instance::serve does.
inline ForkedResult serve_forked(const Instance &instance, const Input &input) {
    detail::InstanceAccess::check_servable(instance, input);
    const sockhost_plugin_descriptor &descriptor = detail::InstanceAccess::descriptor(instance);
    void *plugin_instance = detail::InstanceAccess::handle(instance);

    ForkedResult result;
    detail::VirtualClock clock;
    detail::FakeRequest request;
    detail::start_request(request, input, result, clock);
    auto *handle = reinterpret_cast<sockhost_request *>(&request);
    auto call = [&](const char *name, auto hook) {
        result.hooks.push_back(name);
        const detail::InHook in_hook(request);
        return hook(plugin_instance, handle);
    };
    {
        const detail::LogTo log_here(&result.log);
        if (descriptor.verify != nullptr) {
            result.verify = call("verify", descriptor.verify);
            if (!*result.verify) {
                detail::release_user_data(request);
                return result;
            }
        }
    }

    int pipe_ends[2];
    if (::pipe2(pipe_ends, O_CLOEXEC) != 0) {
        const int error = errno;
        detail::release_user_data(request);
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(error));
    }
    const pid_t child = ::fork();
    if (child < 0) {
        const int error = errno;
        ::close(pipe_ends[0]);
        ::close(pipe_ends[1]);
        detail::release_user_data(request);
        throw std::runtime_error(std::string("fork: ") + std::strerror(error));
    }
    if (child == 0) {
        ::close(pipe_ends[0]);
        ForkedResult child_result;
        child_result.timeout_ms = input.timeout_ms;
        request.result = &child_result;
        {
            const detail::LogTo log_here(&child_result.log);
            bool serve = true;
            if (descriptor.process_init != nullptr) {
                child_result.hooks.push_back("process_init");
                child_result.child_process_init = descriptor.process_init(plugin_instance);
                serve = *child_result.child_process_init == SOCKHOST_OK;
            }

            if (serve && descriptor.setup != nullptr) {
                child_result.setup = call("setup", descriptor.setup);
                serve = *child_result.setup == SOCKHOST_OK;
            }
            if (serve) {
                child_result.handle = call("handle", descriptor.handle);
                if (descriptor.finish != nullptr) child_result.finish = call("finish", descriptor.finish);
            }
            detail::release_user_data(request);  // the child's copy
        }
        child_result.elapsed_ms = clock.now_ms();
        // `call` records hooks in `result`, the parent's copy: move them over.
        child_result.hooks.insert(child_result.hooks.end(), result.hooks.begin() + (result.verify ? 1 : 0),
                                  result.hooks.end());
        detail::ResultWire wire;
        detail::encode(wire, child_result);
        std::size_t sent = 0;
        while (sent < wire.bytes.size()) {
            const ssize_t n = ::write(pipe_ends[1], wire.bytes.data() + sent, wire.bytes.size() - sent);
            if (n <= 0 && errno != EINTR) break;
            if (n > 0) sent += static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(pipe_ends[1]);
    detail::ResultWire wire;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(pipe_ends[0], buffer, sizeof buffer);
        if (n > 0) wire.bytes.append(buffer, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    ::close(pipe_ends[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        result.crash_signal = WTERMSIG(status);
        result.error = "request child killed by signal " + std::to_string(WTERMSIG(status));
        detail::release_user_data(request);  // the worker's copy of what verify attached
        return result;
    }
    const std::optional<bool> verify = result.verify;
    std::vector<LogLine> verify_log = std::move(result.log);
    result = ForkedResult{};
    result.verify = verify;
    detail::decode(wire, result);
    if (verify) result.hooks.insert(result.hooks.begin(), "verify");
    result.log.insert(result.log.begin(), verify_log.begin(), verify_log.end());
    request.result = &result;
    {
        const detail::LogTo log_here(&result.log);
        detail::release_user_data(request);  // the worker's copy of what verify attached
    }
    return result;
}

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_FORKED_RUN_HPP
