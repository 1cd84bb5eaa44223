/* A plugin as one built against ABI 1.0, 1.1 or 1.2 is (FROZEN_ABI_MINOR 0, 1 or 2): its
 * descriptor is the struct those versions declared, which ends at `finish` (1.0, 1.1) or
 * `import_state` (1.2), with struct_size set to that size. A newer host must not read the
 * members later versions appended. So that a host which reads past struct_size gets
 * caught, the bytes right after the descriptor look like later members that opt in to
 * everything: `handoff` asks for connections to be handed over, `export_state` and
 * `import_state` log that they were called and fail (a failed export or import fails the
 * reload), and 1.3's `create_with_context` fails the create, saying so.
 *
 * It serves as an echo that calls between_requests after each chunk it answers, so that
 * a reload test can see an idle connection of it closed, as ABI 1.1 has it, not moved. */
#include <sockhost/plugin.h>

#include <stdio.h>

#ifndef FROZEN_ABI_MINOR
#error "FROZEN_ABI_MINOR (0, 1 or 2) is required"
#endif
#ifndef FROZEN_NAME
#error "FROZEN_NAME (the descriptor's name) is required"
#endif

/* sockhost_plugin_descriptor exactly as ABI 1.0 and 1.1 (and, with its last three
 * members, 1.2) declared it. */
typedef struct frozen_descriptor {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *name;
    const char *version;
    uint32_t transports;
    sockhost_status (*create)(const char *config_json, void **instance, char *error,
                              size_t error_capacity);
    void (*destroy)(void *instance);
    sockhost_status (*process_init)(void *instance);
    bool (*verify)(void *instance, sockhost_request *request);
    sockhost_status (*setup)(void *instance, sockhost_request *request);
    sockhost_status (*handle)(void *instance, sockhost_request *request);
    sockhost_status (*finish)(void *instance, sockhost_request *request);
#if FROZEN_ABI_MINOR >= 2
    uint32_t handoff;
    sockhost_status (*export_state)(void *instance, const void **data, size_t *length);
    sockhost_status (*import_state)(void *instance, const void *data, size_t length, char *error,
                                    size_t error_capacity);
#endif
} frozen_descriptor;

typedef sockhost_status (*create_with_context_fn)(sockhost_instance_context *context, const char *config_json,
                                                  void **instance, char *error, size_t error_capacity);

/* The descriptor, then bait where later members would be. */
typedef struct descriptor_and_bait {
    frozen_descriptor descriptor;
#if FROZEN_ABI_MINOR < 2
    uint32_t handoff;
    sockhost_status (*export_state)(void *instance, const void **data, size_t *length);
    sockhost_status (*import_state)(void *instance, const void *data, size_t length, char *error,
                                    size_t error_capacity);
#endif
    create_with_context_fn create_with_context;
} descriptor_and_bait;

#if FROZEN_ABI_MINOR >= 2
#define BAIT(member) descriptor.member
_Static_assert(sizeof(frozen_descriptor) == offsetof(sockhost_plugin_descriptor, create_with_context),
               "the 1.2 descriptor ends where 1.3's first member begins");
#else
#define BAIT(member) member
_Static_assert(sizeof(frozen_descriptor) == offsetof(sockhost_plugin_descriptor, handoff),
               "the 1.0/1.1 descriptor ends where 1.2's first member begins");
#endif
_Static_assert(offsetof(descriptor_and_bait, create_with_context) ==
                   offsetof(sockhost_plugin_descriptor, create_with_context),
               "the 1.3 bait lies where a host reading past struct_size would look");
_Static_assert(offsetof(descriptor_and_bait, BAIT(handoff)) == offsetof(sockhost_plugin_descriptor, handoff) &&
                   offsetof(descriptor_and_bait, BAIT(export_state)) ==
                       offsetof(sockhost_plugin_descriptor, export_state) &&
                   offsetof(descriptor_and_bait, BAIT(import_state)) ==
                       offsetof(sockhost_plugin_descriptor, import_state),
               "the bait lies where a host reading past struct_size would look");

static const sockhost_host_api *host;

static sockhost_status echo_handle(void *instance, sockhost_request *request) {
    (void)instance;
    char chunk[4096];
    int64_t count;
    while ((count = host->read(request, chunk, sizeof chunk)) > 0) {
        if (host->write(request, chunk, (size_t)count) != SOCKHOST_OK) return SOCKHOST_ERROR;
        if (host->flush(request) != SOCKHOST_OK) return SOCKHOST_ERROR;
        host->between_requests(request);
    }
    return count == 0 ? SOCKHOST_OK : SOCKHOST_ERROR;
}

#if FROZEN_ABI_MINOR < 2
static sockhost_status bait_export_state(void *instance, const void **data, size_t *length) {
    (void)instance;
    (void)data;
    (void)length;
    host->log(NULL, SOCKHOST_LOG_ERROR,
              FROZEN_NAME ": export_state called: the host read past the descriptor's struct_size");
    return SOCKHOST_ERROR;
}

static sockhost_status bait_import_state(void *instance, const void *data, size_t length, char *error,
                                         size_t error_capacity) {
    (void)instance;
    (void)data;
    (void)length;
    snprintf(error, error_capacity, "%s",
             FROZEN_NAME ": import_state called: the host read past the descriptor's struct_size");
    return SOCKHOST_ERROR;
}
#endif

static sockhost_status bait_create_with_context(sockhost_instance_context *context, const char *config_json,
                                               void **instance, char *error, size_t error_capacity) {
    (void)context;
    (void)config_json;
    (void)instance;
    snprintf(error, error_capacity, "%s",
             FROZEN_NAME ": create_with_context called: the host read past the descriptor's struct_size");
    return SOCKHOST_ERROR;
}

static const descriptor_and_bait plugin = {
    .descriptor =
        {
            .struct_size = sizeof(frozen_descriptor),
            .abi_major = 1,
            .abi_minor = FROZEN_ABI_MINOR,
            .name = FROZEN_NAME,
            .version = "1",
            .transports = SOCKHOST_TRANSPORTS_ALL,
            .handle = echo_handle,
#if FROZEN_ABI_MINOR >= 2
            /* A 1.2 plugin that keeps nothing across a reload. */
            .handoff = 0,
            .export_state = NULL,
            .import_state = NULL,
#endif
        },
#if FROZEN_ABI_MINOR < 2
    .handoff = SOCKHOST_HANDOFF_CONNECTIONS,
    .export_state = bait_export_state,
    .import_state = bait_import_state,
#endif
    .create_with_context = bait_create_with_context,
};

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *table) {
    host = table;
    return (const sockhost_plugin_descriptor *)&plugin.descriptor;
}
