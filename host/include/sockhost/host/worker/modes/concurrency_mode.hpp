// How admitted requests run: socketserver's synchronous server and its ForkingMixIn and
// ThreadingMixIn. The server's loop asks the mode for capacity before it accepts more.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/host/shared/server_options.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sockhost {

// What a mode's loop takes requests from: the server's listener, its stop and cancel
// eventfds, and the step that accepts (or receives) one request and admits it.
class RequestSource {
public:
    enum class Intake {
        admitted,   // `request` is ready to dispatch
        dropped,    // refused, or a transient error: try again
        drained,    // nothing pending (EAGAIN)
        exhausted,  // out of descriptors or memory: pause before accepting again
    };
    struct Taken {
        Intake intake;
        std::unique_ptr<Request> request;
    };

    virtual int listener_fd() const = 0;
    virtual int stop_fd() const = 0;
    virtual int cancel_fd() const = 0;
    virtual const std::string &listener_text() const = 0;
    virtual Taken take_request() = 0;

protected:
    ~RequestSource() = default;
};

class ConcurrencyMode {
public:
    virtual ~ConcurrencyMode() = default;

    // socketserver's serve_forever: takes requests from `source` and dispatches them until
    // the stop fd is set. The blocking modes share one poll(2) loop that takes up to
    // kTakeBatch requests per wake-up (until EAGAIN or the mode's cap); the event mode runs its epoll loop, which also runs the
    // requests' fibers and so returns only when they have ended.
    virtual Result<void> serve(RequestSource &source);

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

private:
    static constexpr int kTakeBatch = 32;
    void take_requests(RequestSource &source);
};

Result<std::unique_ptr<ConcurrencyMode>> make_sync_mode(Handler &handler);
Result<std::unique_ptr<ConcurrencyMode>> make_threading_mode(Handler &handler, int max_threads);
// `inherited_fds_to_close`: descriptors a child must not keep (the server's own).
Result<std::unique_ptr<ConcurrencyMode>> make_forking_mode(Handler &handler, int max_children,
                                                           std::vector<int> inherited_fds_to_close);
Result<std::unique_ptr<ConcurrencyMode>> make_event_mode(Handler &handler, int max_connections,
                                                         std::size_t fiber_stack_size);

}  // namespace sockhost
