/* A descriptor without the one required hook. */
#include <sockhost/plugin.h>

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    (void)host;
    static sockhost_plugin_descriptor descriptor = {
        .struct_size = sizeof(sockhost_plugin_descriptor),
        .abi_major = SOCKHOST_ABI_MAJOR,
        .abi_minor = SOCKHOST_ABI_MINOR,
        .name = "bad_no_handle",
        .version = "1",
        .transports = SOCKHOST_TRANSPORTS_ALL,
    };
    return &descriptor;
}
