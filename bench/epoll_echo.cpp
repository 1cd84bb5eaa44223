// The reference for the stream echo rows: the smallest useful epoll echo server (one
// thread, level-triggered, no per-request allocation). What a stream echo can do on this
// machine with one core; sockhost's event mode is measured against it.
//
//   epoll_echo tcp://127.0.0.1:9000      (or unix:/tmp/echo.sock)
#include "epoll_stream_server.hpp"

namespace {

struct Echo {
    struct State {};
    std::string_view answer(State &, const char *data, std::size_t size) { return {data, size}; }
};

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) bench::die("usage: epoll_echo tcp://HOST:PORT | unix:PATH");
    const auto endpoint = bench::parse_endpoint(argv[1]);
    if (endpoint.datagram()) bench::die("epoll_echo serves streams; use dgram_echo for " + endpoint.text);
    bench::raise_descriptor_limit();
    static bench::EpollStreamServer<Echo> server(endpoint, Echo{});  // static: its 64 KiB buffer
    server.run();
}
