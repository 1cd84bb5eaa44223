/*
 * sockhost plugin ABI, version 1.5: 1.0; plus `stopping` at the end of sockhost_host_api
 * (1.1); plus connection and state handoff across reloads (1.2: `set_handoff_state` and
 * `handoff_state` at the end of sockhost_host_api, `handoff`, `export_state` and
 * `import_state` at the end of sockhost_plugin_descriptor); plus plugin metrics (1.3:
 * `declare_metric`, `counter_add`, `gauge_set`, `gauge_add` and `histogram_observe` at the
 * end of sockhost_host_api, `create_with_context` at the end of the descriptor); plus error
 * kinds, per-request user data and the instance's place (1.4: `last_error_kind`,
 * `set_user_data`, `user_data` and `instance_info` at the end of sockhost_host_api); plus
 * the peer's identity (1.5: `peer_identity` at the end of sockhost_host_api).
 *
 * A plugin is a shared object that exports exactly one symbol,
 * SOCKHOST_PLUGIN_ENTRY_SYMBOL, of type sockhost_plugin_entry_fn. The host calls it once
 * after loading, passing the host function table; the plugin returns its descriptor.
 *
 * Naming: sockhost_host_* is implemented by the host and called by the plugin;
 * sockhost_plugin_* is implemented by the plugin and called by the host.
 *
 * Compatibility rules (see docs/plugin-sdk.md):
 *   - Every struct begins with `struct_size`; members are only ever appended. A reader
 *     checks `struct_size` before reading a member added after the first release.
 *   - A change to this file that adds a member bumps SOCKHOST_ABI_MINOR; any other change
 *     to a declaration bumps SOCKHOST_ABI_MAJOR (comments are free: abi-history.txt
 *     records the declarations). The host refuses a plugin with a different major, or a
 *     newer minor than its own.
 *   - No C++ type and no exception crosses this boundary. Nothing is freed across it.
 *
 * Processes and threads. The supervisor process never loads a plugin: everything here runs
 * in a worker process (a fresh fork+exec of the host; each generation's workers load the
 * plugin anew, so a reload runs the entry function, create and process_init again, in new
 * processes), or in a program that uses the host as a library (there, the thread that
 * loads the plugin stands for a worker's main thread). In a worker, the main thread loads
 * the plugin, calls the entry function and runs create and process_init before any
 * listener is served, and destroy after every listener's loop has stopped. Each listener
 * has one loop thread, which accepts (or receives a datagram) and runs verify; setup,
 * handle and finish of one request then run, by the listener's mode, on:
 *   sync       the loop thread, one request at a time (listeners run side by side);
 *   threading  a thread of the request's own, while the loop accepts and verifies others;
 *   forking    the one thread of a child forked for the request, which first runs
 *              process_init again; the child ends with _exit, never destroy;
 *   event      the request's fiber on the loop thread: requests interleave, switching only
 *              inside host functions that wait (read, read_line, write, flush, sleep_ms).
 */
#ifndef SOCKHOST_PLUGIN_H
#define SOCKHOST_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKHOST_ABI_MAJOR 1
#define SOCKHOST_ABI_MINOR 5

/* The one symbol a plugin exports. */
#define SOCKHOST_PLUGIN_ENTRY_SYMBOL "sockhost_plugin_entry"

#if defined(__GNUC__)
#define SOCKHOST_EXPORT __attribute__((visibility("default")))
#else
#define SOCKHOST_EXPORT
#endif

typedef enum sockhost_status {
    SOCKHOST_OK = 0,
    /* The request failed: the host logs it with the peer address (and the message set
     * with set_error, if any), closes the request, and keeps serving. */
    SOCKHOST_ERROR = 1
} sockhost_status;

/* Transports, as bits so that a descriptor can list the ones it supports. */
typedef enum sockhost_transport {
    SOCKHOST_TRANSPORT_TCP = 1u << 0,
    SOCKHOST_TRANSPORT_UDP = 1u << 1,
    SOCKHOST_TRANSPORT_UNIX_STREAM = 1u << 2,
    SOCKHOST_TRANSPORT_UNIX_DGRAM = 1u << 3
} sockhost_transport;

#define SOCKHOST_TRANSPORTS_STREAM (SOCKHOST_TRANSPORT_TCP | SOCKHOST_TRANSPORT_UNIX_STREAM)
#define SOCKHOST_TRANSPORTS_DATAGRAM (SOCKHOST_TRANSPORT_UDP | SOCKHOST_TRANSPORT_UNIX_DGRAM)
#define SOCKHOST_TRANSPORTS_ALL (SOCKHOST_TRANSPORTS_STREAM | SOCKHOST_TRANSPORTS_DATAGRAM)

typedef enum sockhost_log_level {
    SOCKHOST_LOG_DEBUG = 0,
    SOCKHOST_LOG_INFO = 1,
    SOCKHOST_LOG_WARNING = 2,
    SOCKHOST_LOG_ERROR = 3
} sockhost_log_level;

/* One request: a stream connection, or one datagram and its reply.
 * Owned by the host; valid from setup (or verify) until finish returns. */
typedef struct sockhost_request sockhost_request;

/* ABI 1.3. What the host knows of one instance while it is being created: the listener it
 * will serve. Owned by the host; valid during create_with_context only. */
typedef struct sockhost_instance_context sockhost_instance_context;

/* ABI 1.3. One metric an instance declared (declare_metric). Owned by the host; valid
 * until the instance's destroy returns, in the worker and in its forked request children.
 * Every update function accepts NULL and then does nothing. */
typedef struct sockhost_metric sockhost_metric;

typedef enum sockhost_metric_kind {
    SOCKHOST_METRIC_COUNTER = 1,  /* only goes up: counter_add */
    SOCKHOST_METRIC_GAUGE = 2,    /* goes up and down: gauge_set, gauge_add */
    SOCKHOST_METRIC_HISTOGRAM = 3 /* observations counted in buckets: histogram_observe */
} sockhost_metric_kind;

/* ABI 1.4. What the last failed read, read_line, write, flush or sleep_ms met
 * (last_error_kind). Plain integers, not an enum: a later minor may add kinds, and a
 * plugin treats a kind it does not know as OTHER. */
#define SOCKHOST_ERROR_KIND_NONE 0u          /* no host call of the request has failed */
#define SOCKHOST_ERROR_KIND_TIMEOUT 1u       /* `timeout` or the request_deadline passed */
#define SOCKHOST_ERROR_KIND_PEER_GONE 2u     /* the peer reset the connection or went away */
#define SOCKHOST_ERROR_KIND_CANCELLED 3u     /* the host is stopping the request */
#define SOCKHOST_ERROR_KIND_LINE_TOO_LONG 4u /* read_line: the line does not fit (nothing read) */
#define SOCKHOST_ERROR_KIND_OTHER 5u         /* anything else: a bad argument, a host failure */

/* ABI 1.4. Concurrency modes (sockhost_instance_info.mode). */
#define SOCKHOST_MODE_SYNC 1u
#define SOCKHOST_MODE_THREADING 2u
#define SOCKHOST_MODE_FORKING 3u
#define SOCKHOST_MODE_EVENT 4u

/* ABI 1.4. Where an instance runs (instance_info). Owned by the host; valid during
 * create_with_context. Members may be appended: check struct_size before reading one
 * added after 1.4. */
typedef struct sockhost_instance_info {
    uint32_t struct_size;
    uint32_t transport;        /* the listener's sockhost_transport bit */
    uint32_t mode;             /* SOCKHOST_MODE_* of the listener */
    uint32_t worker_index;     /* 1-based within its generation; 0 outside a worker (check) */
    uint64_t generation;       /* the supervisor's generation, from 1; 0 outside a worker */
    const char *listener_name; /* the listener's `name`; "" when it has none. Never NULL */
    const char *address;       /* the listener's address as bound ("tcp://127.0.0.1:41234" for
                                  port 0), as configured outside a worker. Never NULL */
} sockhost_instance_info;

/* ABI 1.4. Frees what set_user_data attached; called once by the host. */
typedef void (*sockhost_release_fn)(void *data);

/* ABI 1.5. sockhost_peer_identity.flags. */
#define SOCKHOST_PEER_TLS 1u          /* the connection is TLS: the tls_ members are set */
#define SOCKHOST_PEER_CERTIFICATE 2u  /* the client presented a certificate: subject, alt_names */
#define SOCKHOST_PEER_VERIFIED 4u     /* ... which chains to the listener's client_ca, unrevoked */
#define SOCKHOST_PEER_CREDENTIALS 8u  /* a Unix stream peer: uid, gid and pid are set */
#define SOCKHOST_PEER_RESUMED 16u     /* the TLS session was resumed (no full handshake) */

/* ABI 1.5. Who the peer is beyond its address (peer_identity). Owned by the host; valid
 * for the request, from verify on. Every string is NUL-terminated and never NULL ("" when
 * there is nothing to say). Members may be appended: check struct_size before reading
 * one added after 1.5. */
typedef struct sockhost_peer_identity {
    uint32_t struct_size;
    uint32_t flags;                /* SOCKHOST_PEER_* */
    /* With SOCKHOST_PEER_CREDENTIALS: the connecting process's, as the kernel saw them
     * when it connected (SO_PEERCRED); -1 otherwise. */
    int64_t uid;
    int64_t gid;
    int64_t pid;
    const char *subject;           /* the client certificate's subject, RFC 2253 ("CN=a,O=b") */
    const char *const *alt_names;  /* its subjectAltNames: "DNS:x", "URI:x", "email:x", "IP:x" */
    size_t alt_name_count;
    const char *verify_error;      /* why a presented certificate is not verified */
    const char *alpn;              /* the ALPN protocol agreed */
    const char *server_name;       /* the name the client asked for (SNI) */
    const char *tls_version;       /* "TLSv1.3" */
    const char *tls_cipher;        /* "TLS_AES_256_GCM_SHA384" */
} sockhost_peer_identity;

/* Limits of a metric declaration (declare_metric). */
#define SOCKHOST_METRIC_NAME_MAX 63   /* bytes, without the NUL */
#define SOCKHOST_METRIC_HELP_MAX 255  /* bytes, without the NUL */
#define SOCKHOST_METRIC_BOUNDS_MAX 16 /* a histogram's upper bounds, +Inf not counted */

/*
 * Functions the host offers the plugin. Owned by the host; valid while the plugin is
 * loaded. Every function taking a request may only be called from the hook that was
 * given that request, on the same thread (in event mode, that request's fiber); only log
 * with a NULL request may be called from any thread at any time. Functions that wait for
 * the peer or a timer (read, read_line, write, flush, sleep_ms) block the calling thread
 * in sync, threading and forking modes, and suspend only the request's fiber in event
 * mode; the others return without waiting for the peer.
 *
 * Stream requests: read and read_line block until data, EOF or error; write queues bytes
 * and sends them when its buffer fills, on flush, before a read that has to wait, and
 * after finish, also when a hook failed (it may be an error message). Datagram requests:
 * the datagram reads like a short stream (its bytes across as many reads as needed, then
 * 0); what is written is the reply, sent as one datagram after finish (an empty reply
 * sends nothing).
 */
typedef struct sockhost_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Reads up to `capacity` bytes into `buffer`. Returns the count (> 0), 0 at end of
     * input, or -1 on error (timeout, reset; see last_error). */
    int64_t (*read)(sockhost_request *request, void *buffer, size_t capacity);

    /* Reads one line, including its '\n' when there is one, into `buffer` and adds a NUL.
     * Returns the line's length, 0 at end of input, or -1 on error, including a line that
     * does not fit in `capacity - 1` bytes (last_error_kind LINE_TOO_LONG: none of it is
     * consumed, so read can take it in pieces). A last line without '\n' before end of
     * input is returned as it is. */
    int64_t (*read_line)(sockhost_request *request, char *buffer, size_t capacity);

    /* Queues all `length` bytes, or fails: there are no partial writes. */
    sockhost_status (*write)(sockhost_request *request, const void *data, size_t length);

    /* Sends everything queued (stream) ; a no-op for datagrams, whose reply goes at finish. */
    sockhost_status (*flush)(sockhost_request *request);

    /* The peer's and the local address as a `struct sockaddr`, with its length in
     * `*length`. Owned by the host, valid for the request. An unbound Unix client has a
     * length of 2 (the family only). */
    const void *(*peer_sockaddr)(const sockhost_request *request, size_t *length);
    const void *(*local_sockaddr)(const sockhost_request *request, size_t *length);

    /* The same addresses as text: "127.0.0.1:5000", "[::1]:5000", "unix:/run/x.sock",
     * "unix:(unbound)". Owned by the host, valid for the request. */
    const char *(*peer_text)(const sockhost_request *request);
    const char *(*local_text)(const sockhost_request *request);

    sockhost_transport (*transport)(const sockhost_request *request);

    /* The I/O timeout of this request, in milliseconds: a read or write that waits longer
     * for the peer fails. 0 means no timeout. Starts at the listener's `timeout`. */
    uint64_t (*timeout_ms)(const sockhost_request *request);
    void (*set_timeout_ms)(sockhost_request *request, uint64_t milliseconds);

    /* Waits without stalling other requests (in the event mode only the calling request
     * waits). Returns SOCKHOST_ERROR if the host is stopping the request. */
    sockhost_status (*sleep_ms)(sockhost_request *request, uint64_t milliseconds);

    /* Logs one line. `request` may be NULL; when given, the peer address is added. With
     * NULL, callable from any thread of the worker, e.g. from create or the plugin's own
     * threads. The host copies `message`. */
    void (*log)(const sockhost_request *request, sockhost_log_level level, const char *message);

    /* Sets the message the host logs when a hook of this request returns SOCKHOST_ERROR.
     * The host copies it. */
    void (*set_error)(sockhost_request *request, const char *message);

    /* The reason for the last failed read, read_line, write, flush or sleep. Owned by the
     * host, valid until the next call on the request. Never NULL. */
    const char *(*last_error)(const sockhost_request *request);

    /* Tells the host that this stream connection is between requests: everything received
     * so far has been answered. Until its next byte arrives, a stopping server may end the
     * connection instead of waiting for it: the read then returns 0, as at the client's
     * close. A connection that has received nothing yet counts as between requests too.
     * A no-op for datagrams. */
    void (*between_requests)(sockhost_request *request);

    /* --- Added in ABI 1.1. A plugin may run on a host with an older table: check with
     * SOCKHOST_HOST_API_HAS(host, stopping) before calling (the C++ SDK does). --- */

    /* True once the host has begun to stop or drain this request's listener (a reload, or
     * SIGTERM/SIGINT): the request is still served, but the host will not keep the
     * connection for long. A stream plugin should finish the request at hand and not wait
     * for another on this connection: an HTTP plugin answers with "Connection: close" and
     * ends. Never goes back to false. Valid in verify, setup, handle and finish, in every
     * mode; cheap enough to call once per response. A datagram plugin may ignore it. */
    bool (*stopping)(const sockhost_request *request);

    /* --- Added in ABI 1.2 (check with SOCKHOST_HOST_API_HAS). --- */

    /* For a plugin whose descriptor sets SOCKHOST_HANDOFF_CONNECTIONS: attaches `length`
     * bytes of this connection's own state (a login, a selected database), copied by the
     * host, replacing what was attached before (0 bytes: none). When a reload moves the
     * connection to the next generation, that generation's instance reads them with
     * handoff_state. What a connection came with stays attached until replaced. Fails for
     * a datagram, or for more than SOCKHOST_HANDOFF_STATE_MAX bytes (the attached state is
     * then unchanged). Call it with between_requests. */
    sockhost_status (*set_handoff_state)(sockhost_request *request, const void *data, size_t length);

    /* For a connection the previous generation handed over: the state its plugin attached
     * with set_handoff_state, its length in `*length` (0 when none was attached; the
     * pointer is then still not NULL). NULL, with `*length` 0, for a connection accepted
     * by this generation. Owned by the host, valid for the request. */
    const void *(*handoff_state)(const sockhost_request *request, size_t *length);

    /* --- Added in ABI 1.3: plugin metrics (docs/plugin-sdk.md, "Metrics"; check with
     * SOCKHOST_HOST_API_HAS). --- */

    /* Declares one metric of the instance being created; call it from create_with_context
     * only, with the `context` it was given. The host reports it with the labels listener,
     * plugin and mode. `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*, has at most
     * SOCKHOST_METRIC_NAME_MAX bytes and does not start with "sockhost_" (the host's own);
     * `help` has at most SOCKHOST_METRIC_HELP_MAX bytes and no control character. A
     * histogram gives up to SOCKHOST_METRIC_BOUNDS_MAX finite, strictly increasing upper
     * bounds (`bounds` is read during the call; a +Inf bucket is added); a counter or gauge
     * gives none. Declaring the same metric again returns the same handle. Returns NULL,
     * and logs the reason with the plugin's name, for a bad declaration, a name declared
     * already in this worker with another kind, help or bounds, a full table, or a call
     * outside create_with_context. Worker main thread. */
    sockhost_metric *(*declare_metric)(sockhost_instance_context *context, sockhost_metric_kind kind,
                                       const char *name, const char *help, const double *bounds,
                                       size_t bound_count);

    /* Updates. Callable from any hook, any thread or fiber, and forked request children;
     * they never wait, allocate or make a system call. NULL, or a metric of another kind,
     * does nothing. histogram_observe ignores NaN. */
    void (*counter_add)(sockhost_metric *metric, uint64_t amount);
    void (*gauge_set)(sockhost_metric *metric, double value);
    void (*gauge_add)(sockhost_metric *metric, double amount);
    void (*histogram_observe)(sockhost_metric *metric, double value);

    /* --- Added in ABI 1.4 (check with SOCKHOST_HOST_API_HAS). --- */

    /* The kind of the failure last_error describes: SOCKHOST_ERROR_KIND_*, NONE when no
     * host call of this request has failed. A plugin may end quietly on TIMEOUT or
     * PEER_GONE between two requests, and answer LINE_TOO_LONG with its protocol's error:
     * such a read_line consumed nothing, so the request can go on (with read). */
    uint32_t (*last_error_kind)(const sockhost_request *request);

    /* Attaches the plugin's own pointer to the request, for its later hooks (from verify or
     * setup to finish; thread_local is wrong in event mode, where one thread runs many
     * requests). Replaces what was attached: the host then calls the old data's `release`,
     * unless `data` is the same pointer. At the request's end, after finish (or after a
     * refusal or a failed setup), the host calls `release(data)` once, on the thread of the
     * request's last hook; `release` may be NULL. Under forking, data attached in verify is
     * released in the worker and, as the child's copy, in the request's child. It does not
     * move with a connection at a reload (set_handoff_state does). Fails only for a NULL
     * request. */
    sockhost_status (*set_user_data)(sockhost_request *request, void *data, sockhost_release_fn release);

    /* What set_user_data attached, or NULL. */
    void *(*user_data)(const sockhost_request *request);

    /* Where the instance being created will run; call it from create_with_context, with its
     * `context`. NULL outside that call. */
    const sockhost_instance_info *(*instance_info)(const sockhost_instance_context *context);

    /* --- Added in ABI 1.5 (check with SOCKHOST_HOST_API_HAS). --- */

    /* Who the peer is: for a TLS connection, what its handshake proved and agreed; for a
     * Unix stream peer, its uid, gid and pid. Valid from verify on (on a TLS listener,
     * verify runs after the handshake). Never NULL: a plain TCP connection or a datagram
     * has flags 0. */
    const sockhost_peer_identity *(*peer_identity)(const sockhost_request *request);
} sockhost_host_api;

/* The most a connection's handoff state may hold. */
#define SOCKHOST_HANDOFF_STATE_MAX 16384

/* True when the host table `host` has `member`: it was built with an ABI minor that has
 * it. Members of the first release (1.0) are always there. */
#define SOCKHOST_HOST_API_HAS(host, member)                                                    \
    ((host)->struct_size >= offsetof(sockhost_host_api, member) + sizeof((host)->member))

/*
 * What the plugin tells the host. Owned by the plugin, in static storage: it must stay
 * valid and unchanged while the plugin is loaded. Only `handle` is required.
 *
 * Lifecycle, per listener: create once; process_init in each process that serves (the
 * host process before serving, and each forked child); then per request
 * verify -> setup -> handle -> finish; destroy once at the end.
 * finish runs after handle, even a failed one; it does not run when setup failed.
 *
 * Concurrency for one instance: threading runs requests on several threads at once, and
 * verify beside them; event interleaves them on one thread; sync serializes them. State
 * shared by instances (globals in the plugin) is reached from several loop threads in
 * every mode.
 */
typedef struct sockhost_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major; /* SOCKHOST_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor; /* SOCKHOST_ABI_MINOR the plugin was built with */
    const char *name;
    const char *version;
    uint32_t transports; /* sockhost_transport bits the plugin serves */

    /* Makes one instance for one listener. `config_json` is the listener's `config` as
     * JSON text (NUL-terminated, "{}" when absent), valid for the call. On failure, write a
     * NUL-terminated reason into `error` (at most `error_capacity` bytes) and return
     * SOCKHOST_ERROR: the worker does not start. `*instance` is the plugin's, passed back
     * to every other hook. Worker main thread, at start-up, before any loop runs. */
    sockhost_status (*create)(const char *config_json, void **instance, char *error,
                              size_t error_capacity);
    /* Frees the instance. Worker main thread, once, after every request of the listener
     * has ended and its loop has stopped. Not called in forking mode's children. */
    void (*destroy)(void *instance);

    /* Runs in each new process that will serve requests, before its first request: on the
     * worker's main thread after create (a failure stops the worker's start-up), and under
     * forking again in each per-request child, on its one thread, before setup (a failure
     * ends that request unserved). Start per-process resources (threads, connections)
     * here: fork copies only the forking thread. */
    sockhost_status (*process_init)(void *instance);

    /* socketserver's verify_request: return false to refuse the request; it is then
     * closed without setup, handle or finish. Runs after the host's allow/deny lists, on
     * the listener's loop thread, which accepts nothing else meanwhile: under forking in
     * the worker (the parent), so state it keeps persists; under event on the loop itself,
     * not on a fiber, so a host function that waits would stall every request of the
     * listener. Under threading it runs beside other requests' hooks. */
    bool (*verify)(void *instance, sockhost_request *request);

    /* The request itself, in this order, all three on one thread: the loop thread (sync),
     * the request's thread (threading), the request's child process (forking: what they
     * change is lost when the child exits), or the request's fiber on the loop thread
     * (event). Returning SOCKHOST_ERROR fails the request; the host logs it and serves on. */
    sockhost_status (*setup)(void *instance, sockhost_request *request);
    sockhost_status (*handle)(void *instance, sockhost_request *request);
    sockhost_status (*finish)(void *instance, sockhost_request *request);

    /* --- Added in ABI 1.2: reloads that keep connections and state (docs/plugin-sdk.md,
     * "Reloads"). The host reads these only when struct_size covers them. --- */

    /* SOCKHOST_HANDOFF_* bits. With SOCKHOST_HANDOFF_CONNECTIONS, a stream connection that
     * is between requests when a reload drains this instance moves to the next generation
     * (with the bytes received and not yet read, and its set_handoff_state) instead of
     * being closed: the new instance serves it as a new request, after the allow/deny
     * lists and verify, and it sees end of input here (read returns 0; what is written
     * after that is dropped). stopping() stays false for such a connection while it can
     * move. Without the bit, a reload ends idle connections as in ABI 1.1. */
    uint32_t handoff;

    /* Optional. While a reload starts the next generation, before it is ready: writes this
     * instance's state into a buffer the plugin owns and sets `*data` and `*length`; the
     * buffer must stay valid and unchanged until export_state is called again or destroy. Worker
     * main thread, while requests are served on their own threads or fibers: synchronize
     * with them. A failure fails the reload; this instance serves on unchanged. */
    sockhost_status (*export_state)(void *instance, const void **data, size_t *length);

    /* Optional. In the next generation, after create and process_init and before any
     * request: takes the state the same listener's previous instance exported (`data` is
     * valid for the call). Not called when there was none (the first generation, a new
     * listener, another plugin, or an instance without export_state). On failure, write a
     * reason into `error` and return SOCKHOST_ERROR: the reload fails, and the previous
     * generation keeps serving with its state. Worker main thread. */
    sockhost_status (*import_state)(void *instance, const void *data, size_t length, char *error,
                                    size_t error_capacity);

    /* --- Added in ABI 1.3 (read only when struct_size covers it). --- */

    /* Optional: create, with the host's `context` for declare_metric (valid for the call).
     * When set, the host calls it instead of create, with create's rules, and it counts as
     * a create: destroy frees what it made. A plugin may set create too, for hosts (or
     * harnesses) that do not know this member. */
    sockhost_status (*create_with_context)(sockhost_instance_context *context, const char *config_json,
                                           void **instance, char *error, size_t error_capacity);
} sockhost_plugin_descriptor;

/* sockhost_plugin_descriptor.handoff bits. */
#define SOCKHOST_HANDOFF_CONNECTIONS (1u << 0)

/* True when the descriptor `descriptor` has `member` (see SOCKHOST_HOST_API_HAS). */
#define SOCKHOST_DESCRIPTOR_HAS(descriptor, member)                                            \
    ((descriptor)->struct_size >=                                                                \
     offsetof(sockhost_plugin_descriptor, member) + sizeof((descriptor)->member))

/* The entry symbol's type. `host` is valid while the plugin is loaded. Returns NULL only
 * when the plugin cannot work with this host at all. Called once per loaded file, on the
 * worker's main thread, before any create. */
typedef const sockhost_plugin_descriptor *(*sockhost_plugin_entry_fn)(
    const sockhost_host_api *host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SOCKHOST_PLUGIN_H */
