// One HTTP connection (one sockhost request): reads requests in large chunks into one
// buffer, parses each head in place, answers with one precomputed buffer, and loops for
// keep-alive and pipelined requests.
#ifndef SOCKHOST_EXAMPLES_CONNECTION_HPP
#define SOCKHOST_EXAMPLES_CONNECTION_HPP

#include "http_config.hpp"
#include "response_counters.hpp"
#include "responses.hpp"

#include <sockhost/plugin.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

class Connection {
public:
    Connection(const HttpConfig &config, const Responses &responses, const ResponseCounters &counters,
               sockhost::sdk::Request &request);
    void serve();

private:
    static constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);
    using Clock = std::chrono::steady_clock;
    enum class HeadInput { more, ended, timed_out };

    bool fill();
    HeadInput fill_head();
    void time_out_head();
    std::size_t find_head_end();
    void skip_blank_lines();
    bool discard_body(std::uint64_t length);
    void drain_quietly(std::uint64_t length);
    void discard_rest_of_oversized_head();
    void reply(std::string_view response);
    void reply_and_close(std::string_view response);
    void flush_pending();

    const HttpConfig &config_;
    const Responses &responses_;
    const ResponseCounters &counters_;
    sockhost::sdk::Request &request_;
    const sockhost_host_api &host_;
    sockhost_request *const raw_;
    const std::uint64_t listener_timeout_ms_;  // the host's per-wait timeout (0: none)
    const std::chrono::seconds header_timeout_;
    // When the head being read began: the connection's start, or the first byte after
    // the last response. Unset while idle between requests.
    std::optional<Clock::time_point> head_started_;

    // One allocation per connection, none per request. Not on the stack: event-mode
    // requests run on small fiber stacks. Not thread_local: fibers on one thread interleave.
    const std::size_t capacity_;
    const std::unique_ptr<char[]> buffer_;
    std::size_t begin_ = 0;      // first unconsumed byte
    std::size_t end_ = 0;        // one past the last byte read
    std::size_t scan_from_ = 0;  // where the search for the head's end resumes
    bool in_body_ = false;
    bool response_pending_ = false;  // written, not yet flushed
};

#endif  // SOCKHOST_EXAMPLES_CONNECTION_HPP
