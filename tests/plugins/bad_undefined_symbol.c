/* Refers to a function nothing defines: loading with RTLD_NOW must fail cleanly. */
#include <sockhost/plugin.h>

extern int sockhost_test_function_that_does_not_exist(void);

static sockhost_status handle(void *instance, sockhost_request *request) {
    (void)instance;
    (void)request;
    return sockhost_test_function_that_does_not_exist() == 0 ? SOCKHOST_OK : SOCKHOST_ERROR;
}

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    (void)host;
    static sockhost_plugin_descriptor descriptor = {
        .struct_size = sizeof(sockhost_plugin_descriptor),
        .abi_major = SOCKHOST_ABI_MAJOR,
        .abi_minor = SOCKHOST_ABI_MINOR,
        .name = "bad_undefined_symbol",
        .version = "1",
        .transports = SOCKHOST_TRANSPORTS_ALL,
        .handle = handle,
    };
    return &descriptor;
}
