#include <sockhost/host/worker/server.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_metrics.hpp>

#include <sys/eventfd.h>

#include <cstring>

namespace sockhost {

namespace {

Result<std::unique_ptr<ConcurrencyMode>> make_mode(const ServerOptions &options, Handler &handler,
                                                   const ListenerSocket &listener, std::vector<int> child_closes) {
    StallWarning stall_warning{options.stall_warning,
                               listener.bound_text() + " (plugin " + std::string(handler.name()) + ")"};
    switch (options.mode) {
    case Mode::sync: return make_sync_mode(handler, std::move(stall_warning));
    case Mode::threading: return make_threading_mode(handler, options.max_threads);
    case Mode::forking: return make_forking_mode(handler, options.max_children, std::move(child_closes));
    case Mode::event:
        return make_event_mode(handler, options.max_connections, options.fiber_stack_size, std::move(stall_warning));
    }
    return make_sync_mode(handler, std::move(stall_warning));
}

}  // namespace

Result<std::unique_ptr<Server>> Server::create(ListenerSocket listener, ServerOptions options,
                                               std::shared_ptr<Handler> handler,
                                               std::unique_ptr<ConnectionHandoff> handoff,
                                               std::unique_ptr<AccessLog> access_log,
                                               std::shared_ptr<const TlsContext> tls) {
    UniqueFd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    UniqueFd cancel_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd || !cancel_fd) return fail_errno(listener.bound_text() + ": eventfd");
    std::unique_ptr<Server> server(
        new Server(std::move(listener), std::move(options), std::move(handler), std::move(stop_fd), std::move(cancel_fd),
                   std::move(handoff), std::move(access_log), std::move(tls)));
    // A request's child keeps what it needs: its connection, or for datagrams the socket
    // it replies on, and the stop and cancel fds, which reach it through fork.
    std::vector<int> child_closes;
    if (!is_datagram(server->listener_.transport())) child_closes.push_back(server->listener_.fd());
    auto mode = make_mode(server->options_, *server->handler_, server->listener_, std::move(child_closes));
    if (!mode) return fail(server->listener_.bound_text() + ": " + mode.error().message);
    server->mode_ = std::move(*mode);
    return server;
}

Server::Server(ListenerSocket listener, ServerOptions options, std::shared_ptr<Handler> handler, UniqueFd stop_fd,
               UniqueFd cancel_fd, std::unique_ptr<ConnectionHandoff> handoff, std::unique_ptr<AccessLog> access_log,
               std::shared_ptr<const TlsContext> tls)
    : listener_(std::move(listener)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      stop_fd_(std::move(stop_fd)),
      cancel_fd_(std::move(cancel_fd)),
      handoff_(std::move(handoff)),
      access_log_(std::move(access_log)),
      accounting_{listener_counters(handler_->listener_index()), access_log_.get(), listener_.bound_text(),
                  std::string(handler_->name())},
      waiter_(cancel_fd_.get(), stop_fd_.get()),
      intake_(listener_, options_, *handler_, waiter_, stop_fd_.get(), cancel_fd_.get(), handoff_.get(), accounting_,
              std::move(tls)) {}

Server::~Server() {
    if (!closed_ && mode_) close(Clock::now());
}

void Server::shutdown() { ::eventfd_write(stop_fd_.get(), 1); }

Result<void> Server::serve_forever() { return mode_->serve(intake_); }

void Server::close(Clock::time_point deadline) {
    if (closed_) return;
    closed_ = true;
    if (options_.block_on_close && !mode_->wait_idle(deadline))
        log_warning(listener_.bound_text() + ": " + std::to_string(mode_->in_flight()) +
                    " request(s) still in flight at the stop deadline; cancelling them");
    cancel_requests();
    mode_->terminate_remaining();
}

void Server::cancel_requests() { ::eventfd_write(cancel_fd_.get(), 1); }

}  // namespace sockhost
