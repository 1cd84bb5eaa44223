// How admitted requests run: socketserver's synchronous server, its ForkingMixIn and
// ThreadingMixIn, and the event mode. A mode runs the loop that takes requests from the
// intake and asks its own capacity before it takes more.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/worker/modes/stall_watch.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/host/worker/request_intake.hpp>
#include <sockhost/host/shared/server_options.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sockhost {

class ConcurrencyMode {
public:
    virtual ~ConcurrencyMode() = default;

    // socketserver's serve_forever: takes requests from `intake` and dispatches them until
    // the stop fd is set. The blocking modes share one poll(2) loop (BlockingMode); the
    // event mode runs its epoll loop, which also runs the requests' fibers and so returns
    // only when they have ended.
    virtual Result<void> serve(RequestIntake &intake) = 0;

    // Runs the admitted request (inline, on a thread, or in a child).
    virtual void dispatch(std::unique_ptr<Request> request) = 0;

    // At the cap of live requests: the loop stops accepting until one ends (back-pressure;
    // further clients wait in the listen backlog).
    virtual bool at_capacity() const { return false; }

    // Descriptors that become readable when a request ends; the loop polls them to reap.
    virtual void append_wake_fds(std::vector<int> &) const {}

    // socketserver's service_actions: reaps ended threads or children.
    virtual void collect_finished() {}

    // Waits until no request is in flight or the deadline passes; true if none is left.
    // Reaps as requests end, waking on the mode's wake fds.
    bool wait_idle(Clock::time_point deadline);

    // After the server's cancel fd is set: ends what is left and reaps it. Returns once
    // nothing of the mode is alive.
    virtual void terminate_remaining() {}

    virtual std::size_t in_flight() const { return 0; }

protected:
    // Why take_batch stopped: nothing pending, out of descriptors or memory, or the batch
    // (or the mode's cap) is full.
    enum class BatchEnd { drained, exhausted, full };
    // Takes and dispatches up to `limit` requests, fewer at the mode's cap. A mode that runs
    // plugin code on its loop passes its StallWatch: each take (the verify hook) is a run.
    BatchEnd take_batch(RequestIntake &intake, int limit, StallWatch *stall_watch = nullptr);
};

// The sync, threading and forking modes' loop: poll(2) on the stop fd, the listener (not
// while at the cap: clients wait in the backlog) and the mode's wake fds; up to kTakeBatch
// requests per wake-up.
class BlockingMode : public ConcurrencyMode {
public:
    Result<void> serve(RequestIntake &intake) final;

protected:
    // The sync mode's, which runs requests on this loop; none for threading and forking.
    StallWatch *stall_watch_ = nullptr;

private:
    // Under load the queue holds more than one, and a poll(2) per datagram or connection
    // was a third of a UDP echo's system calls.
    static constexpr int kTakeBatch = 32;
};

// A listener's stall_warning, for the modes that run plugin code on their loop (StallWatch).
struct StallWarning {
    std::chrono::milliseconds threshold;
    std::string who;  // "tcp://127.0.0.1:8080 (plugin spin)"
};

Result<std::unique_ptr<ConcurrencyMode>> make_sync_mode(Handler &handler, StallWarning stall_warning);
Result<std::unique_ptr<ConcurrencyMode>> make_threading_mode(Handler &handler, int max_threads);
// `inherited_fds_to_close`: descriptors a child must not keep (the server's own).
Result<std::unique_ptr<ConcurrencyMode>> make_forking_mode(Handler &handler, int max_children,
                                                           std::vector<int> inherited_fds_to_close);
Result<std::unique_ptr<ConcurrencyMode>> make_event_mode(Handler &handler, int max_connections,
                                                         std::size_t fiber_stack_size, StallWarning stall_warning);

}  // namespace sockhost
