/* A plugin built against the plugin.h of one released minor (plugin-api/abi/1.N, the
 * include path CMake gives it instead of the live header), using every member that
 * version had, so that the suite proves each older plugin binary still loads and works
 * on this host. One stream connection is a conversation of lines, each answered:
 *
 *   all   "echo WORDS"  -> "WORDS"                 read_line, write, flush, between_requests
 *         "read N"      -> "read=BYTES"            read of the next N bytes
 *         "where"       -> "peer=.. local=.. transport=T sockaddrs=ok"
 *         "timeout"     -> "timeout=1234"          set_timeout_ms, timeout_ms
 *         "sleep"       -> "slept"                 sleep_ms
 *         "log"         -> "logged"                log ("exerciser 1.N logs")
 *         "long"        -> reads the next line into 8 bytes: "too_long: LAST_ERROR", and
 *                          from 1.4 " kind=K"; before 1.4 the request then ends
 *         "fail"        -> set_error ("exerciser 1.N fails on purpose"), handle fails
 *   1.1   "hold"        -> sleeps 500 ms, then "stopping=0|1"
 *   1.2   "state X"     -> "attached"              set_handoff_state; a handed-over
 *                          connection's first answer is "handed over with state X"
 *                          (handoff_state); export_state/import_state carry the count of
 *                          lines the instance served; "count" -> "served=N"
 *   1.3   metrics exerciser_lines_total (counter_add), exerciser_last_line_bytes
 *         (gauge_set, gauge_add), exerciser_line_bytes (histogram_observe), declared in
 *         create_with_context
 *   1.4   create logs its instance_info; verify attaches user data, released with a log
 *         line; "user" -> "user_data=attached"; "long" adds last_error_kind.
 *   1.5   "identity" -> "flags=F uid=U tls=VERSION subject=S" (peer_identity). */
#include <sockhost/plugin.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EXERCISER_MINOR
#error "EXERCISER_MINOR (the frozen minor built against) is required"
#endif
_Static_assert(SOCKHOST_ABI_MINOR == EXERCISER_MINOR, "built against the frozen header of its own minor");

#define STRINGIFY_TEXT(x) #x
#define STRINGIFY(x) STRINGIFY_TEXT(x)
#define VERSION_TEXT(minor) "1." STRINGIFY(minor)
#define EXERCISER "exerciser " VERSION_TEXT(EXERCISER_MINOR)

static const sockhost_host_api *host;

typedef struct exerciser {
    atomic_ullong served; /* lines answered, carried across reloads from 1.2 */
    char exported[32];
#if SOCKHOST_ABI_MINOR >= 3
    sockhost_metric *lines;
    sockhost_metric *last_line_bytes;
    sockhost_metric *line_bytes;
#endif
} exerciser;

static exerciser *new_instance(void) {
    exerciser *self = calloc(1, sizeof *self);
    if (self != NULL) atomic_init(&self->served, 0);
    return self;
}

static sockhost_status exerciser_create(const char *config_json, void **instance, char *error, size_t capacity) {
    (void)config_json;
    exerciser *self = new_instance();
    if (self == NULL) {
        snprintf(error, capacity, "out of memory");
        return SOCKHOST_ERROR;
    }
    *instance = self;
    return SOCKHOST_OK;
}

#if SOCKHOST_ABI_MINOR >= 3
static sockhost_status exerciser_create_with_context(sockhost_instance_context *context, const char *config_json,
                                                     void **instance, char *error, size_t capacity) {
    if (exerciser_create(config_json, instance, error, capacity) != SOCKHOST_OK) return SOCKHOST_ERROR;
    exerciser *self = *instance;
    static const double bounds[] = {8, 64};
    self->lines = host->declare_metric(context, SOCKHOST_METRIC_COUNTER, "exerciser_lines_total",
                                       "Lines the exerciser answered.", NULL, 0);
    self->last_line_bytes = host->declare_metric(context, SOCKHOST_METRIC_GAUGE, "exerciser_last_line_bytes",
                                                 "The last line's length, plus one.", NULL, 0);
    self->line_bytes = host->declare_metric(context, SOCKHOST_METRIC_HISTOGRAM, "exerciser_line_bytes",
                                            "Lengths of the lines answered.", bounds, 2);
#if SOCKHOST_ABI_MINOR >= 4
    const sockhost_instance_info *info = host->instance_info(context);
    char line[512];
    if (info == NULL || info->struct_size < sizeof *info) {
        snprintf(error, capacity, "instance_info gave nothing");
        free(self);
        return SOCKHOST_ERROR;
    }
    snprintf(line, sizeof line, EXERCISER " instance: mode=%u generation=%llu worker=%u transport=%u address=%s",
             info->mode, (unsigned long long)info->generation, info->worker_index, info->transport, info->address);
    host->log(NULL, SOCKHOST_LOG_INFO, line);
#endif
    return SOCKHOST_OK;
}
#endif

static void exerciser_destroy(void *instance) { free(instance); }

static sockhost_status exerciser_process_init(void *instance) {
    (void)instance;
    host->log(NULL, SOCKHOST_LOG_INFO, EXERCISER " process_init");
    return SOCKHOST_OK;
}

#if SOCKHOST_ABI_MINOR >= 4
static void release_trail(void *data) {
    host->log(NULL, SOCKHOST_LOG_INFO, EXERCISER " released user data");
    free(data);
}
#endif

static bool exerciser_verify(void *instance, sockhost_request *request) {
    (void)instance;
#if SOCKHOST_ABI_MINOR >= 4
    void *trail = malloc(16);
    if (trail == NULL || host->set_user_data(request, trail, release_trail) != SOCKHOST_OK) {
        free(trail);
        return false;
    }
#else
    (void)request;
#endif
    return true;
}

static sockhost_status exerciser_setup(void *instance, sockhost_request *request) {
    (void)instance;
    (void)request;
    return SOCKHOST_OK;
}

static sockhost_status exerciser_finish(void *instance, sockhost_request *request) {
    (void)instance;
    (void)request;
    return SOCKHOST_OK;
}

static bool answer(sockhost_request *request, const char *text) {
    return host->write(request, text, strlen(text)) == SOCKHOST_OK && host->write(request, "\n", 1) == SOCKHOST_OK &&
           host->flush(request) == SOCKHOST_OK;
}

/* One command; false ends the request (with `*status`). */
static bool serve_line(exerciser *self, sockhost_request *request, char *line, sockhost_status *status) {
    char reply[1024];
    const size_t length = strlen(line);
    if (length > 0 && line[length - 1] == '\n') line[length - 1] = '\0';
    atomic_fetch_add(&self->served, 1);
#if SOCKHOST_ABI_MINOR >= 3
    host->counter_add(self->lines, 1);
    host->gauge_set(self->last_line_bytes, (double)length);
    host->gauge_add(self->last_line_bytes, 1);
    host->histogram_observe(self->line_bytes, (double)length);
#endif
    if (strncmp(line, "echo ", 5) == 0) {
        snprintf(reply, sizeof reply, "%s", line + 5);
    } else if (strncmp(line, "read ", 5) == 0) {
        char bytes[64] = "";
        size_t wanted = (size_t)strtoul(line + 5, NULL, 10);
        size_t got = 0;
        if (wanted >= sizeof bytes) wanted = sizeof bytes - 1;
        while (got < wanted) {
            const int64_t count = host->read(request, bytes + got, wanted - got);
            if (count <= 0) break;
            got += (size_t)count;
        }
        bytes[got] = '\0';
        snprintf(reply, sizeof reply, "read=%s", bytes);
    } else if (strcmp(line, "where") == 0) {
        size_t peer_length = 0;
        size_t local_length = 0;
        const void *peer = host->peer_sockaddr(request, &peer_length);
        const void *local = host->local_sockaddr(request, &local_length);
        snprintf(reply, sizeof reply, "peer=%s local=%s transport=%u sockaddrs=%s", host->peer_text(request),
                 host->local_text(request), (unsigned)host->transport(request),
                 peer != NULL && local != NULL && peer_length > 2 && local_length > 2 ? "ok" : "missing");
    } else if (strcmp(line, "timeout") == 0) {
        host->set_timeout_ms(request, 1234);
        snprintf(reply, sizeof reply, "timeout=%llu", (unsigned long long)host->timeout_ms(request));
    } else if (strcmp(line, "sleep") == 0) {
        snprintf(reply, sizeof reply, "%s", host->sleep_ms(request, 1) == SOCKHOST_OK ? "slept" : "sleep failed");
    } else if (strcmp(line, "log") == 0) {
        host->log(request, SOCKHOST_LOG_INFO, EXERCISER " logs");
        snprintf(reply, sizeof reply, "logged");
    } else if (strcmp(line, "long") == 0) {
        char small[8];
        if (host->read_line(request, small, sizeof small) >= 0) {
            snprintf(reply, sizeof reply, "fitted");
        } else {
#if SOCKHOST_ABI_MINOR >= 4
            snprintf(reply, sizeof reply, "too_long: %s kind=%u", host->last_error(request),
                     host->last_error_kind(request));
            char byte = '\0';
            while (host->read(request, &byte, 1) == 1 && byte != '\n') {
            }
#else
            snprintf(reply, sizeof reply, "too_long: %s", host->last_error(request));
            answer(request, reply);
            return false; /* before 1.4 the request's state is unknown after it */
#endif
        }
    } else if (strcmp(line, "fail") == 0) {
        host->set_error(request, EXERCISER " fails on purpose");
        *status = SOCKHOST_ERROR;
        return false;
#if SOCKHOST_ABI_MINOR >= 1
    } else if (strcmp(line, "hold") == 0) {
        host->sleep_ms(request, 500);
        snprintf(reply, sizeof reply, "stopping=%d", host->stopping(request) ? 1 : 0);
#endif
#if SOCKHOST_ABI_MINOR >= 2
    } else if (strncmp(line, "state ", 6) == 0) {
        const char *state = line + 6;
        snprintf(reply, sizeof reply, "%s",
                 host->set_handoff_state(request, state, strlen(state)) == SOCKHOST_OK ? "attached" : "refused");
    } else if (strcmp(line, "count") == 0) {
        snprintf(reply, sizeof reply, "served=%llu", (unsigned long long)atomic_load(&self->served));
#endif
#if SOCKHOST_ABI_MINOR >= 4
    } else if (strcmp(line, "user") == 0) {
        snprintf(reply, sizeof reply, "user_data=%s", host->user_data(request) != NULL ? "attached" : "none");
#endif
#if SOCKHOST_ABI_MINOR >= 5
    } else if (strcmp(line, "identity") == 0) {
        const sockhost_peer_identity *identity = host->peer_identity(request);
        snprintf(reply, sizeof reply, "flags=%u uid=%lld tls=%s subject=%s", identity->flags, (long long)identity->uid,
                 identity->tls_version, identity->subject);
#endif
    } else {
        snprintf(reply, sizeof reply, "unknown command");
    }
    if (!answer(request, reply)) {
        *status = SOCKHOST_ERROR;
        return false;
    }
    return true;
}

static sockhost_status exerciser_handle(void *instance, sockhost_request *request) {
    exerciser *self = instance;
    sockhost_status status = SOCKHOST_OK;
    char line[256];
#if SOCKHOST_ABI_MINOR >= 2
    size_t state_length = 0;
    const void *state = host->handoff_state(request, &state_length);
    if (state != NULL) {
        char greeting[128];
        snprintf(greeting, sizeof greeting, "handed over with state %.*s", (int)state_length, (const char *)state);
        if (!answer(request, greeting)) return SOCKHOST_ERROR;
    }
#endif
    for (;;) {
        host->between_requests(request);
        const int64_t count = host->read_line(request, line, sizeof line);
        if (count == 0) return SOCKHOST_OK;
        if (count < 0) {
            host->set_error(request, host->last_error(request));
            return SOCKHOST_ERROR;
        }
        if (!serve_line(self, request, line, &status)) return status;
    }
}

#if SOCKHOST_ABI_MINOR >= 2
static sockhost_status exerciser_export_state(void *instance, const void **data, size_t *length) {
    exerciser *self = instance;
    snprintf(self->exported, sizeof self->exported, "%llu", (unsigned long long)atomic_load(&self->served));
    *data = self->exported;
    *length = strlen(self->exported);
    return SOCKHOST_OK;
}

static sockhost_status exerciser_import_state(void *instance, const void *data, size_t length, char *error,
                                              size_t capacity) {
    exerciser *self = instance;
    char text[32];
    if (length == 0 || length >= sizeof text) {
        snprintf(error, capacity, "state of %zu bytes is not a count", length);
        return SOCKHOST_ERROR;
    }
    memcpy(text, data, length);
    text[length] = '\0';
    atomic_store(&self->served, strtoull(text, NULL, 10));
    return SOCKHOST_OK;
}
#endif

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *api) {
    static sockhost_plugin_descriptor descriptor;
    host = api;
    memset(&descriptor, 0, sizeof descriptor);
    descriptor.struct_size = sizeof descriptor;
    descriptor.abi_major = SOCKHOST_ABI_MAJOR;
    descriptor.abi_minor = SOCKHOST_ABI_MINOR;
    descriptor.name = "abi_exerciser_1_" STRINGIFY(EXERCISER_MINOR);
    descriptor.version = VERSION_TEXT(EXERCISER_MINOR);
    descriptor.transports = SOCKHOST_TRANSPORTS_STREAM;
    descriptor.create = exerciser_create;
    descriptor.destroy = exerciser_destroy;
    descriptor.process_init = exerciser_process_init;
    descriptor.verify = exerciser_verify;
    descriptor.setup = exerciser_setup;
    descriptor.handle = exerciser_handle;
    descriptor.finish = exerciser_finish;
#if SOCKHOST_ABI_MINOR >= 2
    descriptor.handoff = SOCKHOST_HANDOFF_CONNECTIONS;
    descriptor.export_state = exerciser_export_state;
    descriptor.import_state = exerciser_import_state;
#endif
#if SOCKHOST_ABI_MINOR >= 3
    descriptor.create_with_context = exerciser_create_with_context;
#endif
    return &descriptor;
}
