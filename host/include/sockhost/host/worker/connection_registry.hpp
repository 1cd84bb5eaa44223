// The connections this worker's requests hold, for the request children of a forking
// listener. A fork copies every descriptor of the process: without this, a child of one
// listener would hold open every connection another listener of the worker was serving
// at that moment: their sockets would outlive the host's close (no reset of one closed
// with unread input, nothing freed) until that child exited. The child closes all of them
// but its own, first thing.
//
// Kept only in a worker with a forking listener and another listener (enable()); every
// other worker pays one relaxed load per connection for it.
#pragma once

namespace sockhost {

class ConnectionRegistry {
public:
    static void enable();
    // A request owns `fd` from now on / is about to close it.
    static void add(int fd);
    static void remove(int fd);
    // In a request child: closes every registered connection but `keep`.
    static void close_all_but(int keep);
};

}  // namespace sockhost
