// The path of one request through its handler, socketserver's order:
// verify (in the accepting loop) -> setup -> handle -> finish -> completion and close.
#pragma once

#include <sockhost/host/shared/access_list.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/request.hpp>

namespace sockhost {

// The listener's allow/deny lists, then the handler's verify. A refused request is logged
// once and must be dropped by the caller without running any other hook.
bool admit_request(Handler &handler, const AccessList &access, Request &request);

// setup -> handle -> finish (finish also after a failed handle, not after a failed setup),
// then the request's completion (flush, FIN / datagram reply). Each failure is logged with
// the peer address; none escapes. Returns true if every step succeeded.
bool run_request(Handler &handler, Request &request);

}  // namespace sockhost
