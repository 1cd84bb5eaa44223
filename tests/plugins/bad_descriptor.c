/* A plugin whose descriptor breaks one rule, chosen at build time: BAD_ABI_MAJOR and
 * BAD_ABI_MINOR (default: this ABI), and BAD_HANDLE (default: a working handle hook).
 * Or one whose code misbehaves as soon as it is loaded, in its constructor: BAD_EXIT
 * (ends the process with status 0), BAD_CRASH (SIGBUS), BAD_HANG (never returns). */
#include <sockhost/plugin.h>

#include <signal.h>
#include <unistd.h>

#if defined(BAD_EXIT) || defined(BAD_CRASH) || defined(BAD_HANG)
__attribute__((constructor)) static void misbehave(void) {
#if defined(BAD_EXIT)
    _exit(0);
#elif defined(BAD_CRASH)
    raise(SIGBUS);
#else
    for (;;) pause();
#endif
}
#endif

#ifndef BAD_ABI_MAJOR
#define BAD_ABI_MAJOR SOCKHOST_ABI_MAJOR
#endif
#ifndef BAD_ABI_MINOR
#define BAD_ABI_MINOR SOCKHOST_ABI_MINOR
#endif
#ifndef BAD_HANDLE
#define BAD_HANDLE handle
#endif

static sockhost_status handle(void *instance, sockhost_request *request) {
    (void)instance;
    (void)request;
    return SOCKHOST_OK;
}

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    (void)host;
    (void)handle;
    static sockhost_plugin_descriptor descriptor = {
        .struct_size = sizeof(sockhost_plugin_descriptor),
        .abi_major = BAD_ABI_MAJOR,
        .abi_minor = BAD_ABI_MINOR,
        .name = "bad_descriptor",
        .version = "1",
        .transports = SOCKHOST_TRANSPORTS_ALL,
        .handle = BAD_HANDLE,
    };
    return &descriptor;
}
