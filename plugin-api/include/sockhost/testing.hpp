// Runs a sockhost plugin with no sockets: a host function table over in-memory input and
// output, one request at a time, for plugin unit tests (GoogleTest or anything else).
// Header-only; link the CMake target sockhost::testing (it adds -ldl where needed). This is
// the one header to include; its parts are in sockhost/testing/.
//
//   sockhost::sdk::testing::Plugin echo("/path/to/echo.so");     // or Plugin(&entry_fn)
//   sockhost::sdk::testing::Input input;
//   input.transport = SOCKHOST_TRANSPORT_TCP;
//   input.bytes = "hello";                                       // then end of input
//   auto result = sockhost::sdk::testing::run(echo, "{}", input);
//   EXPECT_EQ(result.handle, SOCKHOST_OK);
//   EXPECT_EQ(result.output, "hello");
//
// run() does create -> process_init -> verify -> setup -> handle -> finish -> destroy.
// For several requests against one instance (state, concurrency), use Instance::serve,
// which may be called from several threads at once. Reloads (ABI 1.2): Input says whether
// the connection was handed over (handed_over_state) or is moved at its next
// between_requests (hand_off_after_bytes_read); RequestResult has the handoff state
// attached; Instance::export_state on the old instance and import_state on a new one.
//
// The rules are those of plugin.h: finish runs after handle even when handle failed, and
// not when setup failed; a refused verify skips setup, handle and finish. Stream input is
// `bytes` followed by end of input (or by `read_error`); a datagram's `bytes` is the
// packet, readable in pieces like a buffer, and what is written is the reply. Sleeps and
// timeouts are recorded, never waited for.
#ifndef SOCKHOST_TESTING_HPP
#define SOCKHOST_TESTING_HPP

#include <sockhost/testing/fake_host.hpp>    // the host table over in-memory requests
#include <sockhost/testing/forked_run.hpp>   // serve_forked(): a request as forking mode runs it
#include <sockhost/testing/input.hpp>        // Input: one request as the plugin sees it
#include <sockhost/testing/instance.hpp>     // Instance: the lifecycle, serve() per request
#include <sockhost/testing/interleaved_run.hpp>  // serve_interleaved(): requests as event mode runs them
#include <sockhost/testing/log_capture.hpp>  // take_unattributed_log()
#include <sockhost/testing/plugin.hpp>       // Plugin: a loaded, checked plugin
#include <sockhost/testing/results.hpp>      // RequestResult, RunResult, LogLine
#include <sockhost/testing/run.hpp>          // run(): one request, whole lifecycle

#endif  // SOCKHOST_TESTING_HPP
