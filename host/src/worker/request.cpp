// Request: what every request shares (buffered input, deadlines, waits); its stream and
// datagram kinds are in stream_request.cpp and datagram_request.cpp.
#include <sockhost/host/worker/request.hpp>

#include <sockhost/host/shared/log.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace sockhost {

namespace {

// How much more input one read asks the socket for.
constexpr std::size_t kInputChunk = 16 * 1024;

}  // namespace

Request::Request(Transport transport, SocketAddress peer, SocketAddress local, IoWaiter &waiter,
                 std::chrono::milliseconds timeout)
    : waiter_(&waiter),
      transport_(transport),
      peer_(peer),
      local_(local),
      timeout_(timeout) {}

bool Request::fail(Failure kind, std::string reason, bool between_requests) {
    last_error_ = std::move(reason);
    failure_ = kind;
    last_failure_ = kind;
    failed_between_requests_ = between_requests;
    return false;
}

void Request::start_deadline(std::chrono::milliseconds length) {
    deadline_length_ = length;  // at most kLongestWait: the config bounds it
    deadline_.reset();
    if (length.count() != 0) deadline_ = Clock::now() + length;
}

WaitResult Request::wait(int fd, short events, const char *what, bool idle, bool wake_on_stop) {
    const auto now = Clock::now();
    const auto deadline_text = [&] {
        return std::string(what) + " timed out: the request took longer than its request_deadline of " +
               std::to_string(deadline_length_.count()) + " ms";
    };
    // An idle connection (between requests) has no request yet: only `timeout` bounds the
    // wait, and the next request's deadline starts with its first byte.
    const std::optional<Clock::time_point> deadline = idle ? std::nullopt : deadline_;
    // Passed already: fail without polling, so input that happens to be ready cannot
    // stretch the request beyond its deadline either.
    if (deadline && now >= *deadline) {
        fail(Failure::timeout, deadline_text());
        return WaitResult::timed_out;
    }
    std::optional<Clock::time_point> until = deadline;
    bool per_wait_timeout_first = false;
    // timeout_ is at most kLongestWait (the config and set_timeout_ms bound it): no overflow.
    if (timeout_.count() != 0 && (!until || now + timeout_ < *until)) {
        until = now + timeout_;
        per_wait_timeout_first = true;
    }
    const WaitResult result = waiter_->wait_for(fd, events, until, idle || wake_on_stop);
    if (!idle) tally_.note_wait(result);
    if (idle && result == WaitResult::ready) restart_deadline();
    if (result == WaitResult::timed_out)
        fail(Failure::timeout,
             per_wait_timeout_first ? std::string(what) + " timed out after " + std::to_string(timeout_.count()) + " ms"
                                    : deadline_text(),
             idle);
    else if (result == WaitResult::cancelled)
        fail(Failure::cancelled, std::string(what) + " cancelled: the server is stopping", idle);
    return result;
}

std::int64_t Request::read(void *buffer, std::size_t capacity) {
    if (capacity == 0) {  // 0 would read as end of input
        fail("read: the buffer capacity is 0");
        return -1;
    }
    const std::size_t buffered = input_.size() - input_start_;
    if (buffered > 0) {
        const std::size_t count = std::min(buffered, capacity);
        std::memcpy(buffer, input_.data() + input_start_, count);
        input_start_ += count;
        consumed_since_between_requests_ = true;
        return static_cast<std::int64_t>(count);
    }
    const std::int64_t count = receive(static_cast<char *>(buffer), capacity, true);
    if (count > 0) consumed_since_between_requests_ = true;
    return count;
}

bool Request::fill_input() {
    if (input_start_ > 0) {  // keep the unread tail at the front
        input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(input_start_));
        input_start_ = 0;
    }
    const std::size_t old_size = input_.size();
    input_filled_ = old_size;
    input_.resize(old_size + kInputChunk);
    const std::int64_t count = receive(input_.data() + old_size, kInputChunk, old_size == 0);
    input_.resize(old_size + static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
    input_filled_ = input_.size();
    return count > 0;
}

void Request::release_user_data() noexcept {
    void *data = std::exchange(user_data_, nullptr);
    const sockhost_release_fn release = std::exchange(release_user_data_, nullptr);
    if (release == nullptr) return;
    // A plugin's function like its hooks: what it throws must not end the worker (it may
    // run in ~Request, on a loop thread or in a fiber).
    try {
        release(data);
    } catch (...) {
        log_error("the plugin's user data release for " + peer_text() + " threw an exception across the C ABI");
    }
}

std::int64_t Request::read_line(char *buffer, std::size_t capacity) {
    if (capacity < 2) {
        fail("read_line: the buffer must hold at least one byte and the NUL");
        return -1;
    }
    const std::size_t limit = capacity - 1;
    std::size_t searched = 0;  // bytes after the buffered start known to hold no '\n'
    bool at_end = false;
    for (;;) {
        // Recomputed each round: fill_input() may move or reallocate the buffer.
        const char *begin = input_.data() + input_start_;
        const std::size_t buffered = input_.size() - input_start_;
        const auto *newline =
            buffered > searched ? static_cast<const char *>(std::memchr(begin + searched, '\n', buffered - searched))
                                : nullptr;
        std::size_t line_length = buffered;  // at end of input: the last line, without '\n'
        if (newline != nullptr) {
            line_length = static_cast<std::size_t>(newline - begin) + 1;
        } else if (!at_end && buffered <= limit) {
            searched = buffered;
            // fill_input() reports a failure in last_error_, cleared here to tell one from
            // end of input, and restored when there was none: an earlier call's failure
            // stays what last_error and last_error_kind report.
            std::string earlier_error = std::exchange(last_error_, {});
            const Failure earlier_failure = std::exchange(last_failure_, Failure::none);
            if (!fill_input()) {
                if (!last_error_.empty()) return -1;
                at_end = true;
            }
            last_error_ = std::move(earlier_error);
            last_failure_ = earlier_failure;
            continue;
        }
        if (line_length > limit) {
            fail(Failure::line_too_long, "read_line: line longer than " + std::to_string(limit) + " bytes");
            return -1;
        }
        std::memcpy(buffer, begin, line_length);
        buffer[line_length] = '\0';
        input_start_ += line_length;
        if (line_length > 0) consumed_since_between_requests_ = true;
        return static_cast<std::int64_t>(line_length);
    }
}

bool Request::write(const void *data, std::size_t length) {
    return queue_output(static_cast<const char *>(data), length);
}

bool Request::sleep_ms(std::uint64_t milliseconds) {
    const auto wake = Clock::now() + bounded_wait(milliseconds);
    if (waiter_->sleep_until(wake) == WaitResult::cancelled) {
        tally_.note_wait(WaitResult::cancelled);
        return fail(Failure::cancelled, "sleep cancelled: the server is stopping");
    }
    return true;
}

}  // namespace sockhost
