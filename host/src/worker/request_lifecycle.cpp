#include <sockhost/host/worker/request_lifecycle.hpp>

#include <sockhost/host/shared/log.hpp>

#include <string>

namespace sockhost {

namespace {

void log_hook_failure(Handler &handler, Request &request, std::string_view hook) {
    std::string note;
    if (!handler.hook_failure_log().admit(note)) return;
    std::string line = std::string(handler.name()) + ": " + std::string(hook) + " failed for " + request.peer_text();
    if (!request.handler_error().empty()) line += ": " + request.handler_error();
    else if (!request.last_error().empty()) line += ": " + request.last_error();
    log_error(line + note);
}

}  // namespace

bool admit_request(Handler &handler, const AccessList &access, Request &request) {
    if (!access.permits(request.peer())) {
        log_info(std::string(handler.name()) + ": refused " + request.peer_text() + " by the allow/deny lists");
        request.end_refused();
        return false;
    }
    if (!handler.verify(request)) {
        log_info(std::string(handler.name()) + ": refused " + request.peer_text() + " by the plugin's verify");
        request.end_refused();
        return false;
    }
    return true;
}

bool run_request(Handler &handler, Request &request) {
    request.hooks().enter(Hook::setup);
    if (handler.setup(request) != SOCKHOST_OK) {
        log_hook_failure(handler, request, "setup");
        request.complete();  // what setup wrote may explain the refusal (plugin.h)
        return false;
    }
    request.hooks().enter(Hook::handle);
    bool succeeded = handler.handle(request) == SOCKHOST_OK;
    if (!succeeded) log_hook_failure(handler, request, "handle");
    request.set_handler_error({});
    request.hooks().enter(Hook::finish);
    if (handler.finish(request) != SOCKHOST_OK) {
        log_hook_failure(handler, request, "finish");
        succeeded = false;
    }
    // A failed handler's partial output is still sent: it may be an error message.
    if (!request.complete()) {
        log_warning(std::string(handler.name()) + ": " + request.peer_text() + ": " + request.last_error());
        succeeded = false;
    }
    return succeeded;
}

}  // namespace sockhost
