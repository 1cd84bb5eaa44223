// Plain socket clients for the tests: what `nc` would do.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sockhost::test {

using namespace std::chrono_literals;

// A bound address as the host logs it, parsed by the host's own parser.
SocketAddress parse_target(const std::string &bound_address);
// Waits until `fd` is readable (true) or the deadline passes (false); retries on EINTR.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline);

// "tcp://127.0.0.1:5000", "tcp://[::1]:5000", "unix:/path" (as the host logs them).
UniqueFd connect_stream(const std::string &bound_address);
// Binds the client to `source_ip` (e.g. "127.0.0.2") before connecting (tcp only).
UniqueFd connect_tcp_from(const std::string &bound_address, const std::string &source_ip);

// A socket's own address as the host formats a peer ("127.0.0.1:40312"): a client's, as
// the host's log lines name it.
std::string local_address_of(int fd);

void send_all(int fd, const std::string &data);
// Reads until EOF (or `timeout` passes: then what arrived so far).
std::string read_until_eof(int fd, std::chrono::milliseconds timeout = 10s);
// Reads until `count` bytes or EOF or timeout.
std::string read_exactly(int fd, std::size_t count, std::chrono::milliseconds timeout = 10s);
std::string read_line(int fd, std::chrono::milliseconds timeout = 10s);

// One request over a new connection: send, half-close, read the whole answer.
std::string stream_exchange(const std::string &bound_address, const std::string &request);

// A datagram client on "udp://..." or "unix-dgram:..."; bound (to an autobind or temp
// path) unless `bound` is false.
class DatagramClient {
public:
    explicit DatagramClient(const std::string &bound_address, bool bound = true);
    ~DatagramClient();
    void send(const std::string &datagram);
    // The next datagram, or nullopt after `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout = 5s);
    std::string exchange(const std::string &datagram);

private:
    UniqueFd fd_;
    std::string own_path_;
};

// Resource counts of a live process, read from /proc.
int open_fd_count(pid_t pid);
int thread_count(pid_t pid);
std::vector<pid_t> child_pids(pid_t pid);  // including zombies
// "socket:[12345]" for each socket the process holds.
std::multiset<std::string> socket_inodes(pid_t pid);
// The same for every SOCK_SEQPACKET unix socket on the machine: the handoff channels
// between a supervisor and its workers (no listener in the tests is one).
std::set<std::string> seqpacket_sockets();
// The process's sockets but its handoff channels.
std::multiset<std::string> sockets_but_handoff_channels(pid_t pid);
bool has_zombie_children(pid_t pid);
// Alive: the process exists and is not a zombie (a zombie has ended; whoever adopted it
// may not have reaped it yet).
bool process_alive(pid_t pid);
// Waits until `pid` is no longer alive; false if it still is after `patience`.
bool ended_within(pid_t pid, std::chrono::milliseconds patience = 10s);

// How often `what` occurs in `text` (log lines, replies).
int count_of(const std::string &text, const std::string &what);

}  // namespace sockhost::test
