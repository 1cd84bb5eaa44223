// Where a mode's loop takes its requests from: one listener, and the step that accepts a
// connection (or receives a datagram), makes it a Request and admits it (allow/deny
// lists, then the plugin's verify). The path of a request reads
//
//   Server::serve_forever -> mode's loop -> RequestIntake::take -> mode's dispatch
#pragma once

#include <sockhost/host/shared/listener.hpp>
#include <sockhost/host/shared/log_rate_limit.hpp>
#include <sockhost/host/shared/server_options.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/host/worker/request_tally.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sockhost {

class RequestIntake {
public:
    enum class Outcome {
        admitted,   // `request` is ready to dispatch
        dropped,    // refused, or a transient error: try again
        drained,    // nothing pending (EAGAIN)
        exhausted,  // out of descriptors or memory: pause before accepting again
    };
    struct Taken {
        Outcome outcome;
        std::unique_ptr<Request> request;
    };

    // The server's stop and cancel eventfds are watched by the mode's loop beside the listener.
    // `handoff` (may be null): connections handed over by another worker are taken before
    // new ones are accepted, and accepted ones may move at a reload.
    // `accounting`: what its requests count to (request_tally.hpp); it outlives them.
    // `tls`: accepted connections are TLS sessions made from it (none: plain).
    RequestIntake(const ListenerSocket &listener, const ServerOptions &options, Handler &handler, IoWaiter &waiter,
                  int stop_fd, int cancel_fd, ConnectionHandoff *handoff, const ListenerAccounting &accounting,
                  std::shared_ptr<const TlsContext> tls = nullptr);

    int listener_fd() const { return listener_.fd(); }
    int stop_fd() const { return stop_fd_; }
    int cancel_fd() const { return cancel_fd_; }
    // Readable while handed-over connections wait to be taken; -1 when there are none.
    int handed_over_fd() const { return handoff_ != nullptr ? handoff_->queue_fd() : -1; }
    bool handed_over_waiting() const { return handoff_ != nullptr && handoff_->queued() > 0; }
    const std::string &listener_text() const { return listener_text_; }

    // Accepts (or receives) one request and admits it.
    Taken take();
    // The peer of the last request take() accepted or received, admitted or not.
    std::string last_peer_text() const { return format_address(last_peer_); }

private:
    Taken accept_connection();
    Taken take_handed_over(HandedOverConnection connection);
    Taken receive_datagram();
    Taken admitted_or_dropped(std::unique_ptr<Request> request);

    const ListenerSocket &listener_;
    const ServerOptions &options_;
    Handler &handler_;
    IoWaiter &waiter_;
    int stop_fd_;
    int cancel_fd_;
    ConnectionHandoff *handoff_;
    ConnectionHandoff *moves_connections_;  // handoff_ when it is enabled, else null
    std::string listener_text_;
    const ListenerAccounting &accounting_;
    std::uint64_t failed_accepts_ = 0;  // in the current episode of running out of descriptors
    LogRateLimit truncated_log_;        // datagrams longer than max_packet_size
    LogRateLimit receive_errors_log_;
    bool local_is_wildcard_ = false;
    std::shared_ptr<const TlsContext> tls_;
    SocketAddress last_peer_;  // accept4 and recvfrom write it in place
    std::vector<char> datagram_buffer_;
};

}  // namespace sockhost
