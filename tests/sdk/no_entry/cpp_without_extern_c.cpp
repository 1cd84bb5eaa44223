// The entry without extern "C": exported, but under its mangled C++ name.
#include <sockhost/plugin.h>

SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *) {
    return nullptr;
}
