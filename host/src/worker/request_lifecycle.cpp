#include <sockhost/host/worker/request_lifecycle.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_activity.hpp>

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

// Counted once, at the end (request_tally.hpp): a connection that moved to the next
// generation is no request here.
bool counted(Request &request, bool succeeded) {
    if (request.handed_off())
        request.tally().end_handed_off();
    else
        request.tally().end(request.tally().outcome(succeeded), request.peer());
    return succeeded;
}

}  // namespace

bool admit_request(Handler &handler, const AccessList &access, Request &request) {
    if (!access.permits(request.peer())) {
        log_info(std::string(handler.name()) + ": refused " + request.peer_text() + " by the allow/deny lists");
        request.end_refused();
        request.tally().end(RequestOutcome::denied, request.peer());
        return false;
    }
    RequestActivity activity(request, handler.listener_index());
    activity.enter(Hook::verify);
    const bool verified = handler.verify(request);
    activity.leave();
    if (!verified) {
        log_info(std::string(handler.name()) + ": refused " + request.peer_text() + " by the plugin's verify");
        request.end_refused();
        request.tally().end(RequestOutcome::refused, request.peer());
        return false;
    }
    return true;
}

bool run_request(Handler &handler, Request &request) {
    RequestActivity activity(request, handler.listener_index());
    activity.enter(Hook::setup);
    const sockhost_status set_up = handler.setup(request);
    activity.leave();
    if (set_up != SOCKHOST_OK) {
        log_hook_failure(handler, request, "setup");
        request.complete();  // what setup wrote may explain the refusal (plugin.h)
        return counted(request, false);
    }
    activity.enter(Hook::handle);
    bool succeeded = handler.handle(request) == SOCKHOST_OK;
    activity.leave();
    if (!succeeded) log_hook_failure(handler, request, "handle");
    request.set_handler_error({});
    activity.enter(Hook::finish);
    const sockhost_status finished = handler.finish(request);
    activity.leave();
    if (finished != SOCKHOST_OK) {
        log_hook_failure(handler, request, "finish");
        succeeded = false;
    }
    // A failed handler's partial output is still sent: it may be an error message.
    if (!request.complete()) {
        log_warning(std::string(handler.name()) + ": " + request.peer_text() + ": " + request.last_error());
        succeeded = false;
    }
    return counted(request, succeeded);
}

}  // namespace sockhost
