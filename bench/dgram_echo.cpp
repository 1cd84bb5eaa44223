// The reference for the datagram rows: a recvfrom/sendto loop on one socket, the least a
// datagram echo can do per packet.
//
//   dgram_echo udp://127.0.0.1:9000      (or unix-dgram:/tmp/echo.sock)
#include "bench_net.hpp"

#include <cerrno>

int main(int argc, char **argv) {
    if (argc != 2) bench::die("usage: dgram_echo udp://HOST:PORT | unix-dgram:PATH");
    const auto endpoint = bench::parse_endpoint(argv[1]);
    if (!endpoint.datagram()) bench::die("dgram_echo serves datagrams; use epoll_echo for " + endpoint.text);
    const auto socket = bench::listen_on(endpoint);
    static char buffer[64 * 1024];
    for (;;) {
        sockaddr_storage peer{};
        socklen_t peer_length = sizeof peer;
        const ssize_t received = ::recvfrom(socket.get(), buffer, sizeof buffer, 0,
                                            reinterpret_cast<sockaddr *>(&peer), &peer_length);
        if (received < 0) continue;
        // An unbound Unix client cannot be answered; everything else gets its datagram back.
        if (peer_length <= sizeof(sa_family_t)) continue;
        ::sendto(socket.get(), buffer, static_cast<std::size_t>(received), 0, reinterpret_cast<sockaddr *>(&peer),
                 peer_length);
    }
}
