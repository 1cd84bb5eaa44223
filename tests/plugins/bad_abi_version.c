/* A plugin declaring the ABI version given at build time (BAD_ABI_MAJOR/MINOR). */
#include <sockhost/plugin.h>

static sockhost_status handle(void *instance, sockhost_request *request) {
    (void)instance;
    (void)request;
    return SOCKHOST_OK;
}

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    (void)host;
    static sockhost_plugin_descriptor descriptor = {
        .struct_size = sizeof(sockhost_plugin_descriptor),
        .abi_major = BAD_ABI_MAJOR,
        .abi_minor = BAD_ABI_MINOR,
        .name = "bad_abi_version",
        .version = "1",
        .transports = SOCKHOST_TRANSPORTS_ALL,
        .handle = handle,
    };
    return &descriptor;
}
