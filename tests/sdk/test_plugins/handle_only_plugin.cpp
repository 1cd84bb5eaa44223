// A plugin with handle alone, for plugin.hpp's tests: the optional hooks must be NULL.
#include <sockhost/plugin.hpp>

namespace {

class HandleOnly {
public:
    explicit HandleOnly(std::string_view) {}
    void handle(sockhost::sdk::Request &request) { request.write("handled"); }
};

}  // namespace

SOCKHOST_PLUGIN(HandleOnly, "sdk_handle_only", "0.0.1", SOCKHOST_TRANSPORT_UDP)
