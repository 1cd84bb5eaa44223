// The path of one request through its handler, socketserver's order:
// verify (in the accepting loop) -> setup -> handle -> finish -> completion and close.
// On a TLS listener the handshake comes first, in the request's thread, child or fiber,
// and verify after it there.
#pragma once

#include <sockhost/host/shared/access_list.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/request.hpp>

namespace sockhost {

// The listener's allow/deny lists, then the handler's verify (after the handshake, in
// run_request, when the request awaits one). A refused request is logged once and must be
// dropped by the caller without running any other hook.
bool admit_request(Handler &handler, const AccessList &access, Request &request);

// [handshake -> verify ->] setup -> handle -> finish (finish also after a failed handle, not after a failed setup),
// then the request's completion (flush, FIN / datagram reply). Each failure is logged with
// the peer address; none escapes. Returns true if every step succeeded.
bool run_request(Handler &handler, Request &request);

}  // namespace sockhost
