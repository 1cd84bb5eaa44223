#include <sockhost/host/worker/request_lifecycle.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_activity.hpp>

#include <string>

namespace sockhost {

namespace {

// What the hook's failure came from: the host's last failed call, when the hook reported
// that (its set_error message is that call's, as the SDK's IoError gives it, or none);
// otherwise the plugin's own reason, whatever host call failed before.
Request::Failure reported_failure(const Request &request) {
    if (!request.handler_error().empty() && request.handler_error() != request.last_error())
        return Request::Failure::other;
    return request.failure();
}

// The peer's doing or a stop's. A line too long is not: the plugin can answer it (its
// kind says what happened, and nothing of the line was consumed) and did not.
bool is_peer_or_stop(Request::Failure failure) {
    return failure == Request::Failure::timeout || failure == Request::Failure::peer_gone ||
           failure == Request::Failure::cancelled;
}

// A keep-alive connection the peer left idle until its timeout, or reset, between two
// requests: the usual end of one, whatever the plugin returned for the read that met it.
bool ended_between_requests(const Request &request) {
    return request.failed_between_requests() && is_peer_or_stop(reported_failure(request));
}

// "NAME: WHAT failed for PEER: REASON", at a level that says whose doing it was: the
// plugin's or the host's (error), the peer's or a stop's (info: a port scan or a client
// that resets must not flood the error log), or the usual end of an idle connection
// (debug). Only error and info lines count against the listener's rate limit.
void log_request_failure(Handler &handler, const Request &request, std::string_view what, const std::string &reason) {
    std::string line = std::string(handler.name()) + ": " + std::string(what) + " failed for " + request.peer_text();
    if (!reason.empty()) line += ": " + reason;
    if (ended_between_requests(request)) return log_debug(line + " (between requests)");
    std::string note;
    if (!handler.hook_failure_log().admit(note)) return;
    if (is_peer_or_stop(reported_failure(request)))
        log_info(line + note);
    else
        log_error(line + note);
}

void log_hook_failure(Handler &handler, const Request &request, std::string_view hook) {
    log_request_failure(handler, request, hook,
                        !request.handler_error().empty() ? request.handler_error() : request.last_error());
}

// Counted once, at the end (request_tally.hpp): a connection that moved to the next
// generation is no request here; one whose handle ended between requests (the peer left
// it idle until its timeout, or reset it) served every request it had: ok.
bool counted(Request &request, bool succeeded, bool handle_ended_between_requests = false) {
    if (request.handed_off())
        request.tally().end_handed_off();
    else
        request.tally().end(!succeeded && handle_ended_between_requests ? RequestOutcome::ok
                                                                        : request.tally().outcome(succeeded),
                            request.peer());
    return succeeded;
}

}  // namespace

namespace {

bool verified_by_plugin(Handler &handler, Request &request) {
    RequestActivity activity(request, handler.listener_index());
    activity.enter(Hook::verify);
    const bool verified = handler.verify(request);
    activity.leave();
    if (!verified) {
        log_info(std::string(handler.name()) + ": refused " + request.peer_text() + " by the plugin's verify");
        request.release_user_data();
        request.end_refused();
        request.tally().end(RequestOutcome::refused, request.peer());
        return false;
    }
    return true;
}

// The handshake's failure is logged as the peer's doing (info): a scanner, a client
// that does not trust the certificate, or one with no client certificate.
bool secured(Handler &handler, Request &request) {
    if (request.handshake()) return true;
    std::string note;
    if (handler.hook_failure_log().admit(note))
        log_info(std::string(handler.name()) + ": TLS handshake failed for " + request.peer_text() + ": " +
                 request.last_error() + note);
    request.end_refused();
    // Cut by a stop's deadline: the stop's doing, counted as any other request it cut.
    request.tally().end(request.failure() == Request::Failure::cancelled ? RequestOutcome::cancelled
                                                                        : RequestOutcome::handshake_failed,
                        request.peer());
    return false;
}

}  // namespace

bool admit_request(Handler &handler, const AccessList &access, Request &request) {
    if (!access.permits(request.peer())) {
        log_info(std::string(handler.name()) + ": refused " + request.peer_text() + " by the allow/deny lists");
        request.end_refused();
        request.tally().end(RequestOutcome::denied, request.peer());
        return false;
    }
    if (access.checks_credentials()) {
        const auto credentials = request.peer_credentials();
        if (!credentials || !access.permits_credentials(credentials->uid, credentials->gid)) {
            log_info(std::string(handler.name()) + ": refused " + request.peer_text() +
                     (credentials ? " (uid " + std::to_string(credentials->uid) + ", gid " +
                                        std::to_string(credentials->gid) + ", pid " + std::to_string(credentials->pid) + ")"
                                  : std::string(" (credentials unknown)")) +
                     " by allow_users/allow_groups");
            request.end_refused();
            request.tally().end(RequestOutcome::denied, request.peer());
            return false;
        }
    }
    // verify may ask who the TLS peer is: it runs after the handshake, in run_request.
    if (request.awaits_handshake()) return true;
    return verified_by_plugin(handler, request);
}

bool run_request(Handler &handler, Request &request) {
    if (request.awaits_handshake() && (!secured(handler, request) || !verified_by_plugin(handler, request)))
        return false;  // counted, logged and closed
    RequestActivity activity(request, handler.listener_index());
    request.clear_failure();
    activity.enter(Hook::setup);
    const sockhost_status set_up = handler.setup(request);
    activity.leave();
    if (set_up != SOCKHOST_OK) {
        log_hook_failure(handler, request, "setup");
        request.release_user_data();
        request.complete();  // what setup wrote may explain the refusal (plugin.h)
        return counted(request, false);
    }
    request.clear_failure();
    activity.enter(Hook::handle);
    bool succeeded = handler.handle(request) == SOCKHOST_OK;
    activity.leave();
    const bool handle_ended_between_requests = !succeeded && ended_between_requests(request);
    if (!succeeded) log_hook_failure(handler, request, "handle");
    request.set_handler_error({});
    request.clear_failure();
    activity.enter(Hook::finish);
    const sockhost_status finished = handler.finish(request);
    activity.leave();
    if (finished != SOCKHOST_OK) {
        log_hook_failure(handler, request, "finish");
        succeeded = false;
    }
    request.release_user_data();
    // A failed handler's partial output is still sent: it may be an error message. A
    // failure here is the host's own call's (no hook's message applies).
    request.set_handler_error({});
    request.clear_failure();
    if (!request.complete()) {
        log_request_failure(handler, request, "sending the answer", request.last_error());
        succeeded = false;
    }
    return counted(request, succeeded, handle_ended_between_requests && finished == SOCKHOST_OK);
}

}  // namespace sockhost
