// Breaks ABI rule 5 on purpose: its raw C hook lets a C++ exception escape. The host must
// log the request as failed and keep serving.
#include <sockhost/plugin.h>

#include <stdexcept>

namespace {

const sockhost_host_api *host_api = nullptr;

sockhost_status handle(void *, sockhost_request *request) {
    char line[64];
    if (host_api->read_line(request, line, sizeof line) > 0 && line[0] == 't') throw std::runtime_error("escaped");
    host_api->write(request, "ok\n", 3);
    return SOCKHOST_OK;
}

}  // namespace

extern "C" SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host) {
    host_api = host;
    static sockhost_plugin_descriptor descriptor = [] {
        sockhost_plugin_descriptor value{};
        value.struct_size = sizeof value;
        value.abi_major = SOCKHOST_ABI_MAJOR;
        value.abi_minor = SOCKHOST_ABI_MINOR;
        value.name = "bad_throws_across_abi";
        value.version = "1";
        value.transports = SOCKHOST_TRANSPORTS_STREAM;
        value.handle = handle;
        return value;
    }();
    return &descriptor;
}
