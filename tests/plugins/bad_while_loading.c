/* A plugin whose code misbehaves as soon as it is loaded, in its constructor, chosen at
 * build time: BAD_EXIT (ends the process with status 0), BAD_CRASH (SIGBUS), BAD_HANG
 * (never returns). Its entry symbol would be fine. */
#include <sockhost/plugin.h>

#include <signal.h>
#include <unistd.h>

__attribute__((constructor)) static void misbehave(void) {
#if defined(BAD_EXIT)
    _exit(0);
#elif defined(BAD_CRASH)
    raise(SIGBUS);
#elif defined(BAD_HANG)
    for (;;) pause();
#endif
}

static sockhost_status handle(void *instance, sockhost_request *request) {
    (void)instance;
    (void)request;
    return SOCKHOST_OK;
}

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    (void)host;
    static sockhost_plugin_descriptor descriptor = {
        .struct_size = sizeof(sockhost_plugin_descriptor),
        .abi_major = SOCKHOST_ABI_MAJOR,
        .abi_minor = SOCKHOST_ABI_MINOR,
        .name = "bad_while_loading",
        .version = "1",
        .transports = SOCKHOST_TRANSPORTS_ALL,
        .handle = handle,
    };
    return &descriptor;
}
