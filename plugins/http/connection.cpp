#include "connection.hpp"

#include "request_head.hpp"

#include <algorithm>
#include <cstring>

namespace {

// Room to read into beyond the largest head, so that reads stay large.
constexpr std::size_t kReadSlackBytes = 16 * 1024;
constexpr std::size_t kMinimumReadBytes = 4096;
// After a 431, how much of the oversized head is read and dropped before closing.
constexpr std::uint64_t kOversizedHeadDrainBytes = 1024 * 1024;
// How long a 408 may wait for a client that does not read it.
constexpr std::uint64_t kRequestTimeoutReplyMs = 1000;

// True when `text` holds an empty line: "\n\n" or "\n\r\n".
bool contains_blank_line(const char *text, std::size_t size) {
    for (std::size_t i = 0; i + 1 < size; ++i) {
        if (text[i] != '\n') continue;
        if (text[i + 1] == '\n' || (text[i + 1] == '\r' && i + 2 < size && text[i + 2] == '\n'))
            return true;
    }
    return false;
}

// A host that has begun to stop (reload, SIGTERM) gets "Connection: close", as nginx does
// while exiting: the client then knows not to send another request on this connection,
// which the host would close at the next request boundary, maybe with the request in flight.
ConnectionReply connection_reply(const RequestHead &head, bool host_stopping) {
    if (!head.keep_alive || host_stopping) return ConnectionReply::close;
    return head.http10 ? ConnectionReply::keep_alive_http10 : ConnectionReply::keep_alive;
}

}  // namespace

Connection::Connection(const HttpConfig &config, const Responses &responses, const ResponseCounters &counters,
                       sockhost::sdk::Request &request)
    : config_(config),
      responses_(responses),
      counters_(counters),
      request_(request),
      host_(*request.host()),
      raw_(request.raw()),
      listener_timeout_ms_(request.timeout_ms()),
      header_timeout_(config.header_timeout_seconds),
      capacity_(config.max_header_bytes + kReadSlackBytes),
      buffer_(std::make_unique_for_overwrite<char[]>(capacity_)) {}

void Connection::serve() {
    head_started_ = Clock::now();  // the first head counts from the connection's start
    for (;;) {
        std::size_t head_end = kNotFound;
        for (;;) {
            skip_blank_lines();
            head_end = find_head_end();
            if (head_end != kNotFound) break;
            if (end_ - begin_ >= config_.max_header_bytes) {
                discard_rest_of_oversized_head();
                return reply_and_close(responses_.header_fields_too_large());
            }
            const HeadInput input = fill_head();
            if (input == HeadInput::ended) return flush_pending();  // the client is done
            if (input == HeadInput::timed_out) return time_out_head();
        }
        head_started_.reset();
        host_.set_timeout_ms(raw_, listener_timeout_ms_);  // the body and the reply: the host's timeout

        RequestHead head;
        const HeadProblem problem =
            parse_request_head(std::string_view(buffer_.get() + begin_, head_end - begin_), head);
        begin_ = head_end;
        scan_from_ = begin_;
        switch (problem) {
        case HeadProblem::none: break;
        case HeadProblem::malformed: return reply_and_close(responses_.bad_request());
        case HeadProblem::version_not_supported: return reply_and_close(responses_.version_not_supported());
        case HeadProblem::transfer_coding: return reply_and_close(responses_.not_implemented());
        }

        if (head.content_length > config_.max_body_bytes) {
            reply_and_close(responses_.content_too_large());
            // Read part of the body the client is sending, so that closing with unread
            // input does not reset the connection before the 413 reaches it.
            const std::uint64_t buffered = end_ - begin_;
            if (head.content_length > buffered)
                drain_quietly(std::min(head.content_length - buffered,
                                       4 * config_.max_body_bytes + 64 * 1024));
            return;
        }
        if (!discard_body(head.content_length)) return;  // the client left mid-body

        const ConnectionReply connection = connection_reply(head, request_.stopping());
        reply(head.method == Method::other
                  ? responses_.method_not_allowed(connection)
                  : responses_.ok(connection, head.method == Method::head));
        if (connection == ConnectionReply::close) return flush_pending();
        // Nothing of a next request buffered here: the connection is idle until it arrives.
        if (begin_ == end_) host_.between_requests(raw_);
        else head_started_ = Clock::now();  // part of the next head is here already
    }
}

// Reads more input after what is buffered. Responses still pending are flushed first, so
// the answers to pipelined requests that arrived together leave in one send. False at end
// of input, or when the client goes quiet (timeout, reset) between requests.
bool Connection::fill() {
    flush_pending();
    if (begin_ == end_) {
        begin_ = end_ = scan_from_ = 0;
    } else if (capacity_ - end_ < kMinimumReadBytes) {
        std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        scan_from_ -= begin_;
        begin_ = 0;
    }
    const std::int64_t count = host_.read(raw_, buffer_.get() + end_, capacity_ - end_);
    if (count > 0) {
        end_ += static_cast<std::size_t>(count);
        return true;
    }
    if (count == 0 || (begin_ == end_ && !in_body_)) return false;
    // Mid-request: worth logging, with the host's kind.
    const std::uint32_t kind = SOCKHOST_HOST_API_HAS(&host_, last_error_kind) ? host_.last_error_kind(raw_)
                                                                              : SOCKHOST_ERROR_KIND_OTHER;
    throw sockhost::sdk::IoError(host_.last_error(raw_), sockhost::sdk::io_error_kind_from_abi(kind));
}

// Reads more of a head within header_timeout. The host's timeout restarts with each byte
// that arrives; this deadline does not, so a client trickling its head cannot hold the
// connection (a thread, a child, a fiber) for long. One host read waits at most once, so a
// timeout of the time left bounds the head; no other host function is needed.
Connection::HeadInput Connection::fill_head() {
    if (!head_started_) {  // idle between requests: the host's timeout bounds the wait
        if (!fill()) return HeadInput::ended;
        head_started_ = Clock::now();
        return HeadInput::more;
    }
    const auto deadline = *head_started_ + header_timeout_;
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left_ms <= 0) return HeadInput::timed_out;
    auto wait_ms = static_cast<std::uint64_t>(left_ms);
    if (listener_timeout_ms_ != 0) wait_ms = std::min(wait_ms, listener_timeout_ms_);
    host_.set_timeout_ms(raw_, wait_ms);
    try {
        // False also when nothing of the head has arrived: such a client is closed quietly.
        return fill() ? HeadInput::more : HeadInput::ended;
    } catch (const sockhost::sdk::IoError &) {
        if (Clock::now() >= deadline) return HeadInput::timed_out;
        throw;  // a reset or the host's own limits: logged as before
    }
}

// Part of a head arrived, not all of it within header_timeout: 408 and close (RFC 9110
// section 15.5.9), so that a slow but honest client learns why. One that sent nothing gets
// no 408 (fill_head): it could take a 408 it never asked for as the answer to its next request.
void Connection::time_out_head() {
    host_.set_timeout_ms(raw_, kRequestTimeoutReplyMs);
    reply_and_close(responses_.request_timeout());
}

// The offset just past the blank line ending the head that starts at begin_, or kNotFound.
// Searches only the first max_header_bytes of the head, resuming where it stopped.
std::size_t Connection::find_head_end() {
    const char *const buffer = buffer_.get();
    const std::size_t limit = std::min(end_, begin_ + config_.max_header_bytes);
    std::size_t position = scan_from_;
    while (position < limit) {
        const void *found = std::memchr(buffer + position, '\n', limit - position);
        if (found == nullptr) break;
        const std::size_t newline = static_cast<std::size_t>(static_cast<const char *>(found) - buffer);
        if (newline + 1 >= limit) {
            scan_from_ = newline;  // cannot tell yet what follows this '\n'
            return kNotFound;
        }
        if (buffer[newline + 1] == '\n') return newline + 2;
        if (buffer[newline + 1] == '\r') {
            if (newline + 2 >= limit) {
                scan_from_ = newline;
                return kNotFound;
            }
            if (buffer[newline + 2] == '\n') return newline + 3;
        }
        position = newline + 1;
    }
    scan_from_ = limit;
    return kNotFound;
}

// RFC 9112 section 2.2: ignore empty lines received before a request line.
void Connection::skip_blank_lines() {
    while (begin_ < end_ && (buffer_[begin_] == '\r' || buffer_[begin_] == '\n')) ++begin_;
    scan_from_ = std::max(scan_from_, begin_);
}

// Reads and drops a Content-Length body; keeps whatever follows it (the next pipelined
// request). False when the input ends first.
bool Connection::discard_body(std::uint64_t length) {
    const std::size_t buffered = end_ - begin_;
    if (length <= buffered) {
        begin_ += static_cast<std::size_t>(length);
        scan_from_ = begin_;
        return true;
    }
    length -= buffered;
    begin_ = end_ = scan_from_ = 0;
    in_body_ = true;
    while (length > 0) {
        if (!fill()) return false;
        const std::size_t received = end_ - begin_;
        if (received <= length) {
            length -= received;
            begin_ = end_ = 0;
        } else {
            begin_ += static_cast<std::size_t>(length);
            length = 0;
        }
    }
    in_body_ = false;
    scan_from_ = begin_;
    return true;
}

// Reads and drops up to `length` bytes; stops silently at end of input or on an error.
void Connection::drain_quietly(std::uint64_t length) {
    while (length > 0) {
        const std::int64_t count = host_.read(raw_, buffer_.get(), capacity_);
        if (count <= 0) return;
        length -= std::min(length, static_cast<std::uint64_t>(count));
    }
}

// Reads on to the end of a head that is too large (bounded), so that the client, which is
// still sending it, gets the 431 instead of a reset.
void Connection::discard_rest_of_oversized_head() {
    flush_pending();  // answers to earlier pipelined requests go out before we wait
    // No blank line ends before begin_ + max_header_bytes; one may straddle that point.
    const std::size_t keep_from = begin_ + config_.max_header_bytes - 2;
    std::memmove(buffer_.get(), buffer_.get() + keep_from, end_ - keep_from);
    end_ -= keep_from;
    begin_ = scan_from_ = 0;
    std::uint64_t budget = kOversizedHeadDrainBytes;
    while (!contains_blank_line(buffer_.get(), end_) && budget > 0) {
        std::memmove(buffer_.get(), buffer_.get() + end_ - 2, 2);  // a blank line may straddle reads
        end_ = 2;
        const std::int64_t count = host_.read(raw_, buffer_.get() + end_, capacity_ - end_);
        if (count <= 0) break;
        end_ += static_cast<std::size_t>(count);
        budget -= std::min(budget, static_cast<std::uint64_t>(count));
    }
    begin_ = end_ = 0;
}

void Connection::reply(std::string_view response) {
    request_.write(response);
    counters_.count(response);
    response_pending_ = true;
}

void Connection::reply_and_close(std::string_view response) {
    reply(response);
    flush_pending();
}

void Connection::flush_pending() {
    if (!response_pending_) return;
    response_pending_ = false;
    request_.flush();
}
