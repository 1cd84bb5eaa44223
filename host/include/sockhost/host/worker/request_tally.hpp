// What one request adds to its listener's counters (shared/worker_metrics.hpp) and access
// log, gathered in plain members while it runs and added once at its end, so the hot path
// costs no atomic per read or write. Without a metrics table or an access log each step is
// a null-pointer test.
//
// When each counter moves (per listener, in the worker or request child that served it):
// - connections_accepted: +1 when accept() returned a stream connection. A connection
//   handed over at a reload is not counted again in the worker that takes it.
// - connections_open: +1 when a stream connection is accepted or taken over by handoff,
//   -1 when this worker is done with it (closed, or handed to the next generation). In
//   forking mode the parent worker takes the -1 when it reaps the request's child, so a
//   child that crashed leaves no connection counted.
// - requests{outcome}, duration_*: once per request (a stream connection, or a datagram),
//   at its end; the duration runs from the accept (or the receipt) to that end. A
//   connection handed over at a reload is no request in the worker that hands it over
//   (no outcome, no duration; its bytes count there); it is a fresh request, timed from
//   the takeover, in the worker that takes it.
// - received_bytes / sent_bytes: bytes read from and written to the peer (for a datagram,
//   its payload as delivered and the reply), added at every between_requests and at the
//   request's end.
// - datagrams_truncated: a datagram longer than max_packet_size was received (and cut).
// - accept_errors: accept() failed with anything but EAGAIN or EINTR (EMFILE included).
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/worker_metrics.hpp>
#include <sockhost/host/worker/io_waiter.hpp>

#include <cstdint>
#include <string>

namespace sockhost {

class AccessLog;

// What a listener's requests report to: resolved once per server, not per request.
struct ListenerAccounting {
    ListenerCounters *counters = nullptr;  // null: metrics off
    AccessLog *access_log = nullptr;       // null: no access log
    std::string listener;                  // the bound address (port 0 resolved), as logged
    std::string plugin;
};

// Adds a finished request's outcome and duration (no bytes, no gauge) to `counters`.
void count_request_end(ListenerCounters &counters, RequestOutcome outcome, Clock::duration duration);

class RequestTally {
public:
    RequestTally() = default;
    RequestTally(const RequestTally &) = delete;
    RequestTally &operator=(const RequestTally &) = delete;

    // `stream`: a connection, counted in connections_open; `accepted`: also in
    // connections_accepted (not for one handed over by another worker).
    void start(const ListenerAccounting *accounting, bool stream, bool accepted);
    bool counting() const { return accounting_ != nullptr && !ended_; }

    void add_received(std::size_t bytes) { received_ += bytes; }
    void add_sent(std::size_t bytes) { sent_ += bytes; }
    // A wait for the peer within a request (not an idle one between requests: that timing
    // out is how a keep-alive connection ends) that timed out or was cancelled decides the
    // outcome, whatever the hooks returned: a plugin may treat a failed read as the end.
    void note_wait(WaitResult result) {
        if (result == WaitResult::timed_out || result == WaitResult::cancelled) failed_wait_ = result;
    }
    // timeout or cancelled after such a wait; else ok if the hooks succeeded, error if not.
    RequestOutcome outcome(bool succeeded) const;

    // Adds the bytes gathered so far (between_requests).
    void add_bytes_so_far();
    // The request ended: its outcome, duration and bytes are counted, its connection
    // closed, and its access log line written. Once; later calls do nothing.
    void end(RequestOutcome outcome, const SocketAddress &peer);
    // The connection moved to another worker: bytes and the gauge only.
    void end_handed_off();

    // Forking mode, in the child: the parent worker takes the connection's gauge at reaping.
    void leave_connection_to_parent() { open_connection_ = false; }
    // Forking mode, in the parent after the fork: this (the child's record) takes over
    // `request`'s start and connection, and `request` counts nothing more. When the child
    // exits, end_counted_by_child(); when it dies before counting, end() with the outcome.
    // The access log line is the child's to write: a child that died leaves none.
    void take_over(RequestTally &request);
    void end_counted_by_child();

private:
    const ListenerAccounting *accounting_ = nullptr;
    Clock::time_point started_{};
    std::uint64_t received_ = 0;
    std::uint64_t sent_ = 0;
    std::uint64_t received_total_ = 0;  // for the access log: every byte of the request
    std::uint64_t sent_total_ = 0;
    WaitResult failed_wait_ = WaitResult::ready;
    bool open_connection_ = false;
    bool ended_ = false;
    bool writes_log_line_ = true;  // false in the parent's record of a forked request
};

}  // namespace sockhost
