// One client of a server in the supervisor's loop (the admin endpoint, the control
// socket): a non-blocking connection that sends a bounded request and takes one answer,
// then is closed. Nothing here waits: each call does what the socket allows now, reads
// and writes at most a bounded amount, and every phase ends by a deadline.
//
//   reading --answer()--> writing --all written--> lingering --EOF, limit, time--> done
//                                 \----------------(no linger)-------------------/
//
// Lingering (as nginx's lingering close): after the answer the connection is shut down
// for writing and what the client still sends is read and dropped for a while, so that
// the close does not find unread bytes, which would make the kernel reset the connection
// and could destroy the answer before the client has read it.
#pragma once

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace sockhost {

class BoundedClient {
public:
    static constexpr std::size_t kMaxLingerBytes = 64 * 1024;
    static constexpr auto kMaxLinger = std::chrono::seconds(2);
    // Bytes written or read in one call at most, so that one fast client does not hold the loop.
    static constexpr std::size_t kMaxBytesPerPass = 256 * 1024;

    enum class Phase { reading, writing, lingering, done };

    // `deadline`: until when it may take to send its request.
    BoundedClient(UniqueFd fd, Clock::time_point deadline) : fd_(std::move(fd)), deadline_(deadline) {}

    Phase phase() const { return phase_; }
    bool done() const { return phase_ == Phase::done; }
    // The end of the current phase (the request's, the answer's or the linger's deadline).
    Clock::time_point deadline() const { return deadline_; }
    // For poll(): what the client waits for now.
    pollfd watched() const;

    // Reads what has arrived, at most `limit` bytes in all (received()). False if the
    // connection failed: the client is then done.
    bool read_request(std::size_t limit);
    const std::string &received() const { return received_; }
    // The client shut down its side: nothing more of its request will come.
    bool request_ended() const { return request_ended_; }

    // Queues `text` as the whole answer, to be written by `deadline`, and writes what the
    // socket takes now. With `linger`, what the client sends afterwards is read and dropped
    // (at most kMaxLingerBytes, for kMaxLinger) before the close.
    void answer(std::string text, Clock::time_point deadline, bool linger);

    // Writes or lingers as far as the socket allows now; done() once finished. Returns
    // false if the answer could not be written whole by its deadline (or the client broke).
    bool proceed(Clock::time_point now);

private:
    bool write_pending(Clock::time_point now);
    void linger(Clock::time_point now);
    void finish();

    UniqueFd fd_;
    Phase phase_ = Phase::reading;
    Clock::time_point deadline_;
    std::string received_;
    std::string pending_;  // the answer, from `written_` on still to write
    std::size_t written_ = 0;
    bool request_ended_ = false;
    bool linger_ = false;
    std::size_t discarded_ = 0;
};

}  // namespace sockhost
