// Per-listener options with socketserver's meaning, in two parts: what the supervisor fixes
// when it creates the socket (BindOptions), and how a worker serves it (ServerOptions).
// Defaults are documented in docs/config.md; where they differ from socketserver's, that
// page says why.
#pragma once

#include <sockhost/host/shared/access_list.hpp>
#include <sockhost/host/shared/privileges.hpp>
#include <sockhost/host/shared/tls_config.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace sockhost {

enum class Mode { sync, threading, forking, event };

// Bounds of an event-mode fiber's stack (bytes; rounded up to whole pages).
inline constexpr std::size_t kMinFiberStackSize = 16 * 1024;
inline constexpr std::size_t kMaxFiberStackSize = 64 * 1024 * 1024;

std::string_view mode_name(Mode mode);

struct BindOptions {
    int request_queue_size = 128;  // listen() backlog
    bool reuse_address = true;     // SO_REUSEADDR (inet)
    bool reuse_port = false;       // SO_REUSEPORT (inet only)
    // Unix sockets only (not socketserver's): the socket file's mode, which it is created
    // with, and its owner, set right after bind. Absent: the umask's mode without group or
    // other write bits (only the host's user may connect), and the host's user.
    std::optional<mode_t> socket_mode;
    std::optional<SocketOwner> socket_owner;
};

struct ServerOptions {
    Mode mode = Mode::sync;
    std::size_t max_packet_size = 8192;        // datagram receive size; longer ones are truncated
    std::chrono::milliseconds timeout{60000};  // per I/O wait of a request; 0 = none
    // Streams: the whole of one request, from the accept or the plugin's between_requests(),
    // however slowly it trickles; 0 = none.
    std::chrono::milliseconds request_deadline{60000};
    bool tcp_nodelay = true;                   // TCP_NODELAY on accepted TCP connections
    int max_children = 40;                     // forking: live children before accept waits
    int max_threads = 256;                     // threading: live threads before accept waits
    int max_connections = 10000;               // event: live requests before accept waits
    std::size_t fiber_stack_size = 64 * 1024;  // event: each request's stack, plus a guard page
    bool block_on_close = true;                // on stop, wait for in-flight requests
    // sync, event: a run of plugin code on the listener's loop longer than this is logged; 0 = never
    std::chrono::milliseconds stall_warning{200};
    AccessList access;                         // allow/deny, before the plugin's verify
    // A hook still running plugin code (no host call) this long is logged by the
    // supervisor; past the limit its worker is replaced (forking: its child killed). 0: off.
    std::chrono::milliseconds stuck_warning{10000};
    std::chrono::milliseconds stuck_limit{60000};
    // Streams: at a reload, idle connections move to the next generation when the plugin
    // opts in (plugin.h, SOCKHOST_HANDOFF_CONNECTIONS); false: they are closed.
    bool handoff = true;
    // A file the worker appends one JSON line per request to (as resolved against the
    // config file's directory); empty: no access log.
    std::string access_log;
    // Streams: TLS on every connection (tls_config.hpp); none: plain bytes.
    std::optional<TlsConfig> tls;
};

}  // namespace sockhost
