// One listener served by one handler in one mode: socketserver's server object.
//
//   Server server(std::move(listener), options, handler);
//   std::thread loop([&] { server.serve_forever(); });
//   ... server.shutdown(); loop.join(); server.close(deadline);
#pragma once

#include <sockhost/host/worker/access_log.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>
#include <sockhost/host/worker/modes/concurrency_mode.hpp>
#include <sockhost/host/worker/request_intake.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/shared/listener.hpp>
#include <sockhost/host/shared/server_options.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <memory>

namespace sockhost {

class Server final {
public:
    // `handoff`: how its connections move at a reload, and those handed to it (none: never).
    // Its requests count to the installed metrics table (request_metrics.hpp) at the
    // handler's listener index, and are written to `access_log` (none: not logged).
    // `tls`: its connections' sessions are made from it (none: plain bytes).
    static Result<std::unique_ptr<Server>> create(ListenerSocket listener, ServerOptions options,
                                                  std::shared_ptr<Handler> handler,
                                                  std::unique_ptr<ConnectionHandoff> handoff = nullptr,
                                                  std::unique_ptr<AccessLog> access_log = nullptr,
                                                  std::shared_ptr<const TlsContext> tls = nullptr);
    ~Server();  // closes with an immediate deadline if close() was not called

    // Accepts (or receives) and dispatches until shutdown(); requests may still be in
    // flight when it returns, except in event mode, whose loop runs its requests and so
    // returns when they have ended (cancel_requests() makes them end at once). An error
    // is a failure of the listener itself.
    Result<void> serve_forever();

    // From any thread: serve_forever returns soon, and connections idle between requests
    // see end of input.
    void shutdown();

    // From any thread: every host I/O wait of an in-flight request fails from now on.
    void cancel_requests();

    // After serve_forever returned: waits until no request is in flight or the deadline
    // passes; true if none is left.
    bool wait_idle(Clock::time_point deadline) { return mode_->wait_idle(deadline); }

    // After serve_forever returned (in event mode also after shutdown() while it still
    // runs its requests): with block_on_close, waits for in-flight requests until
    // `deadline`; then cancels what is left (host I/O waits fail) and reaps it.
    void close(Clock::time_point deadline);

    const ListenerSocket &listener() const { return listener_; }
    const ServerOptions &options() const { return options_; }
    Handler &handler() const { return *handler_; }
    ConnectionHandoff *handoff() const { return handoff_.get(); }
    std::size_t in_flight() const { return mode_->in_flight(); }

private:
    Server(ListenerSocket listener, ServerOptions options, std::shared_ptr<Handler> handler, UniqueFd stop_fd,
           UniqueFd cancel_fd, std::unique_ptr<ConnectionHandoff> handoff, std::unique_ptr<AccessLog> access_log,
           std::shared_ptr<const TlsContext> tls);

    ListenerSocket listener_;
    ServerOptions options_;
    std::shared_ptr<Handler> handler_;
    UniqueFd stop_fd_;    // eventfd: set once by shutdown(), never cleared
    UniqueFd cancel_fd_;  // eventfd: set once to end every in-flight host I/O wait
    std::unique_ptr<ConnectionHandoff> handoff_;
    std::unique_ptr<AccessLog> access_log_;  // outlives the mode, whose requests write to it
    ListenerAccounting accounting_;
    BlockingWaiter waiter_;
    RequestIntake intake_;
    std::unique_ptr<ConcurrencyMode> mode_;
    bool closed_ = false;
};

}  // namespace sockhost
