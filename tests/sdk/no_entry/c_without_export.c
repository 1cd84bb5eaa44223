/* The entry without SOCKHOST_EXPORT: hidden by the plugin's visibility, so not exported. */
#include <sockhost/plugin.h>

#include <stddef.h>

const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    (void)host;
    return NULL;
}
