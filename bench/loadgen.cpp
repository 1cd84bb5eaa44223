// loadgen: the closed-loop load for every row that wrk does not drive.
//
//   loadgen --target tcp://127.0.0.1:9000 [--mode stream] --connections 50 --size 64 --duration 5
//       each connection sends SIZE bytes, waits for the same bytes back, and repeats.
//   loadgen --target tcp://... --mode connect --sources 8
//       a new connection per request (connect, SIZE bytes out and back, close), spread over
//       the source addresses 127.0.0.2 .. 127.0.0.(1+sources).
//   loadgen --target udp://... (or unix-dgram:PATH) [--mode dgram]
//       each client socket sends a SIZE-byte datagram and waits for it to come back.
//   loadgen --target tcp://... --mode idle --connections 10000 [--http]
//       opens the connections, gets one answer on each, prints "held N" and holds them
//       until SIGUSR1, then asks each once more and reports how many still answer.
//
// With --http, an answer that says "Connection: close" ends its connection, and the next
// request opens a new one, as an HTTP client does.
//
//   loadgen --target tcp://... --http --persistent --connections 8
//       a naive client: each connection is opened once and used for its whole life. It
//       ignores "Connection: close" (counted as close_announced) and never reconnects: a
//       connection the server closes, resets or stops answering is an error and ends that
//       client (counted in clients_lost). The reload soak's handoff case runs these.
//
// --slow-log PATH --slow-us N writes one line per request slower than N µs: its answer's
// CLOCK_MONOTONIC time in ns, its latency in µs, the connection's index (to line slow
// requests up with a host's log when looking for their cause).
//
// One thread, epoll, non-blocking sockets. --duration 0 runs until SIGTERM/SIGINT.
// SIGUSR1 / SIGUSR2 switch the recorded phase to "reload" / "steady" (the reload soak).
// The result is one JSON object on stdout: requests, rate, p50/p90/p99/max latency and the
// errors by kind: refused, reset, eof (closed before the answer), timeout, wrong (bytes
// differ from those sent), other.
#include "bench_net.hpp"
#include "latency_histogram.hpp"

#include <arpa/inet.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t phase_requested = 0;  // 0 steady, 1 reload
volatile std::sig_atomic_t release_requested = 0;  // idle mode: SIGUSR1 ends the hold

void on_stop(int) { stop_requested = 1; }
void on_usr1(int) {
    phase_requested = 1;
    release_requested = 1;
}
void on_usr2(int) { phase_requested = 0; }

enum class Mode { stream, connect, dgram, idle };
enum ErrorKind { refused, reset, eof, timeout, wrong, other, kErrorKinds };
constexpr const char *kErrorNames[kErrorKinds] = {"refused", "reset", "eof", "timeout", "wrong", "other"};

struct Options {
    std::string target;
    Mode mode = Mode::stream;
    bool mode_given = false;
    int connections = 50;
    std::size_t size = 64;
    double duration = 5;
    int timeout_ms = 2000;
    int sources = 0;
    bool http = false;
    bool persistent = false;  // stream mode: one connection per client for its whole life
    std::string slow_log;
    std::uint64_t slow_us = 0;
};

struct PhaseStats {
    std::uint64_t requests = 0;
    std::uint64_t errors[kErrorKinds] = {};
    // Stream requests the server closed the connection on before answering any byte, after
    // answering earlier ones: a server may close a keep-alive connection between requests
    // (a draining generation does). Retried on a new connection, as HTTP clients do; their
    // latency includes the retry. Not errors, but reported.
    std::uint64_t retried = 0;
    bench::LatencyHistogram latency;
    double seconds = 0;
};

enum class State { idle, backoff, connecting, sending, awaiting, held, lost };

struct Connection {
    int fd = -1;
    State state = State::idle;
    std::uint64_t started_ns = 0;
    std::uint64_t deadline_ns = 0;
    std::uint64_t sequence = 0;
    std::string request;
    std::string received;
    int source = 0;
    bool answered_in_round = false;
    std::uint64_t answered_on_connection = 0;
    bool retrying = false;  // keeps started_ns: the retry's latency counts from the first send
    bool server_closes = false;  // --http: the last answer said "Connection: close"
};

std::string error_text(int error) { return std::strerror(error); }

class LoadGenerator {
public:
    explicit LoadGenerator(Options options)
        : options_(std::move(options)), target_(bench::parse_endpoint(options_.target)),
          epoll_(::epoll_create1(EPOLL_CLOEXEC)), connections_(static_cast<std::size_t>(options_.connections)) {
        if (!options_.mode_given) options_.mode = target_.datagram() ? Mode::dgram : Mode::stream;
        if (target_.datagram() != (options_.mode == Mode::dgram))
            bench::die(options_.target + ": --mode does not match the transport");
        if (options_.persistent && options_.mode != Mode::stream) bench::die("--persistent is for --mode stream only");
        if (options_.size < 8) options_.size = 8;  // room for the sequence number
        if (!options_.slow_log.empty()) {
            slow_log_ = std::fopen(options_.slow_log.c_str(), "we");
            if (slow_log_ == nullptr) bench::die(options_.slow_log + ": " + error_text(errno));
        }
    }
    ~LoadGenerator() {
        if (slow_log_ != nullptr) std::fclose(slow_log_);
    }
    LoadGenerator(const LoadGenerator &) = delete;
    LoadGenerator &operator=(const LoadGenerator &) = delete;

    int run() {
        switch (options_.mode) {
        case Mode::idle: return run_idle();
        default: return run_closed_loop();
        }
    }

private:
    // ---- requests and answers ------------------------------------------------------------

    // The request bytes, in the connection's own buffer (no allocation once it has grown).
    void make_request(Connection &connection) const {
        if (options_.http) {
            connection.request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
            return;
        }
        connection.request.assign(options_.size, 'x');
        std::memcpy(connection.request.data(), &connection.sequence, sizeof connection.sequence);
    }

    // > 0 complete, 0 incomplete, < 0 wrong.
    int answer_status(const Connection &connection) const {
        const std::string &bytes = connection.received;
        if (!options_.http) {
            if (bytes.size() < options_.size) return 0;
            return bytes == connection.request ? 1 : -1;  // an echo: the same bytes
        }
        const auto head_end = bytes.find("\r\n\r\n");
        if (head_end == std::string::npos) return bytes.size() > 16384 ? -1 : 0;
        if (bytes.compare(0, 12, "HTTP/1.1 200") != 0) return -1;
        std::size_t length = 0;
        for (const char *name : {"Content-Length:", "content-length:"}) {
            const auto at = bytes.find(name);
            if (at != std::string::npos && at < head_end) length = std::strtoull(bytes.c_str() + at + 15, nullptr, 10);
        }
        const std::size_t total = head_end + 4 + length;
        if (bytes.size() < total) return 0;
        return bytes.size() == total ? 1 : -1;
    }

    // As an HTTP client must: after "Connection: close" the next request goes on a new
    // connection (a stopping sockhost, like an exiting nginx, says so on its last answer).
    static bool says_connection_close(const std::string &answer) {
        const auto head_end = answer.find("\r\n\r\n");
        for (const char *field : {"\r\nConnection: close\r\n", "\r\nconnection: close\r\n"}) {
            const auto at = answer.find(field);
            if (at != std::string::npos && at < head_end) return true;
        }
        return false;
    }

    PhaseStats &phase() { return phases_[phase_requested != 0 ? 1 : 0]; }

    void record_error(ErrorKind kind, const std::string &detail) {
        ++phase().errors[kind];
        if (kind == other && other_messages_++ < 5) std::fprintf(stderr, "loadgen: %s\n", detail.c_str());
    }

    // ---- sockets ---------------------------------------------------------------------------

    void watch(std::size_t index, std::uint32_t events, int operation) {
        epoll_event event{};
        event.events = events;
        event.data.u64 = index;
        ::epoll_ctl(epoll_.get(), operation, connections_[index].fd, &event);
    }

    void close_connection(Connection &connection) {
        if (connection.fd >= 0) ::close(connection.fd);  // also leaves the epoll set
        connection.fd = -1;
        connection.state = State::idle;
        connection.received.clear();
    }

    void back_off(Connection &connection) {
        close_connection(connection);
        if (options_.persistent) {  // no second connection: this client is done
            connection.state = State::lost;
            ++clients_lost_;
            return;
        }
        connection.state = State::backoff;
        connection.deadline_ns = bench::now_ns() + 10'000'000;  // 10 ms: no busy loop on refusal
    }

    ErrorKind kind_of(int error) const {
        switch (error) {
        case ECONNREFUSED:
        case ENOENT: return refused;  // a Unix socket path that is not there
        case ECONNRESET:
        case EPIPE: return reset;
        default: return other;
        }
    }

    void start(std::size_t index) {
        Connection &connection = connections_[index];
        const std::uint64_t now = bench::now_ns();
        connection.received.clear();
        if (!connection.retrying) {
            connection.started_ns = now;
            connection.deadline_ns = now + static_cast<std::uint64_t>(options_.timeout_ms) * 1'000'000ULL;
        }
        connection.retrying = false;
        if (connection.fd >= 0 && options_.mode != Mode::connect) {  // the same connection or socket
            return send_request(index);
        }
        connection.answered_on_connection = 0;
        connection.fd = ::socket(target_.family(), target_.socket_type() | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connection.fd < 0) {
            record_error(other, "socket: " + error_text(errno));
            return back_off(connection);
        }
        if (!bind_source(connection)) return back_off(connection);
        if (::connect(connection.fd, target_.address.get(), target_.address.length) == 0) {
            watch(index, EPOLLIN, EPOLL_CTL_ADD);
            return on_connected(index);
        }
        if (errno != EINPROGRESS && errno != EAGAIN) {
            const int error = errno;
            record_error(kind_of(error), "connect: " + error_text(error));
            return back_off(connection);
        }
        connection.state = State::connecting;
        watch(index, EPOLLOUT, EPOLL_CTL_ADD);
    }

    bool bind_source(Connection &connection) {
        if (target_.transport == sockhost::Transport::unix_dgram) {
            // Autobind an abstract address: the server needs somewhere to send the reply.
            sockaddr_un address{};
            address.sun_family = AF_UNIX;
            if (::bind(connection.fd, reinterpret_cast<sockaddr *>(&address), sizeof(sa_family_t)) != 0) {
                record_error(other, "bind: " + error_text(errno));
                return false;
            }
            return true;
        }
        if (options_.sources <= 0 || !target_.inet() || target_.family() != AF_INET) return true;
        // Source addresses 127.0.0.2.. each have their own ephemeral ports; the port is
        // chosen at connect time, so ports in TIME_WAIT can be reused.
        const int one = 1;
        ::setsockopt(connection.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in source{};
        source.sin_family = AF_INET;
        source.sin_addr.s_addr = htonl(0x7f000002U + static_cast<std::uint32_t>(connection.source % options_.sources));
        ++connection.source;
        if (::bind(connection.fd, reinterpret_cast<sockaddr *>(&source), sizeof source) != 0) {
            record_error(other, "bind source: " + error_text(errno));
            return false;
        }
        return true;
    }

    void on_connected(std::size_t index) {
        Connection &connection = connections_[index];
        if (target_.inet() && !target_.datagram()) bench::set_nodelay(connection.fd);
        watch(index, EPOLLIN, EPOLL_CTL_MOD);
        send_request(index);
    }

    void send_request(std::size_t index) {
        Connection &connection = connections_[index];
        connection.sequence = ++next_sequence_;
        make_request(connection);
        transmit(index);
    }

    // Sends the connection's request. A full receiver (a Unix datagram socket queues only
    // net.unix.max_dgram_qlen datagrams, 10 by default) is waited for, as a blocking client
    // would, not counted as an error.
    void transmit(std::size_t index) {
        Connection &connection = connections_[index];
        const std::string &request = connection.request;
        const ssize_t sent = ::send(connection.fd, request.data(), request.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EAGAIN) {
            if (connection.state != State::sending) watch(index, EPOLLOUT, EPOLL_CTL_MOD);
            connection.state = State::sending;
            return;
        }
        if (connection.state == State::sending) watch(index, EPOLLIN, EPOLL_CTL_MOD);
        if (sent != static_cast<ssize_t>(request.size())) {
            const int error = sent < 0 ? errno : EMSGSIZE;
            if (closed_between_requests(connection, error)) return retry(index);
            record_error(kind_of(error), "send: " + error_text(error));
            return back_off(connection);
        }
        connection.state = State::awaiting;
    }

    void on_writable(std::size_t index) {
        Connection &connection = connections_[index];
        if (connection.state != State::connecting) return;
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
            record_error(kind_of(error), "connect: " + error_text(error));
            return back_off(connection);
        }
        on_connected(index);
    }

    // Returns true when a complete, correct answer arrived.
    bool on_readable(std::size_t index) {
        Connection &connection = connections_[index];
        char buffer[16384];
        for (;;) {
            const ssize_t count = ::recv(connection.fd, buffer, sizeof buffer, 0);
            if (count > 0) {
                if (options_.mode == Mode::dgram) {
                    std::uint64_t sequence = 0;
                    if (static_cast<std::size_t>(count) >= sizeof sequence) std::memcpy(&sequence, buffer, sizeof sequence);
                    if (sequence != connection.sequence) continue;  // a late answer to a timed-out request
                    connection.received.assign(buffer, static_cast<std::size_t>(count));
                    break;
                }
                connection.received.append(buffer, static_cast<std::size_t>(count));
                if (static_cast<std::size_t>(count) < sizeof buffer) break;
                continue;
            }
            if (count < 0 && (errno == EAGAIN || errno == EINTR)) return false;
            if (closed_between_requests(connection, count == 0 ? 0 : errno)) {
                retry(index);
                return false;
            }
            if (count == 0 && options_.mode != Mode::dgram) {
                record_error(eof, "closed by the server before the answer");
            } else {
                record_error(kind_of(errno), "recv: " + error_text(errno));
            }
            if (options_.mode == Mode::idle) {
                close_connection(connection);
            } else {
                back_off(connection);
            }
            return false;
        }
        if (connection.state != State::awaiting) {  // bytes nobody asked for
            record_error(wrong, "unrequested bytes");
            back_off(connection);
            return false;
        }
        const int status = answer_status(connection);
        if (status == 0) return false;
        if (status < 0) {
            record_error(wrong, "answer differs from the request");
            if (options_.mode == Mode::idle) {
                close_connection(connection);
            } else {
                back_off(connection);
            }
            return false;
        }
        PhaseStats &stats = phase();
        ++stats.requests;
        const std::uint64_t answered_ns = bench::now_ns();
        stats.latency.record(answered_ns - connection.started_ns);
        if (slow_log_ != nullptr && answered_ns - connection.started_ns > options_.slow_us * 1000)
            std::fprintf(slow_log_, "%llu %llu %lld\n", static_cast<unsigned long long>(answered_ns),
                         static_cast<unsigned long long>((answered_ns - connection.started_ns) / 1000),
                         static_cast<long long>(&connection - connections_.data()));
        const bool close_announced = options_.http && says_connection_close(connection.received);
        close_announced_ += close_announced;
        connection.server_closes = close_announced && !options_.persistent;  // a naive client ignores it
        connection.received.clear();
        ++connection.answered_on_connection;
        return true;
    }

    // End of input or a reset (error 0: end of input) before any byte of the answer, on a
    // stream connection that has answered before: closed between requests.
    bool closed_between_requests(const Connection &connection, int error) const {
        return options_.mode == Mode::stream && !options_.persistent && connection.received.empty() &&
               connection.answered_on_connection > 0 &&
               (error == 0 || error == ECONNRESET || error == EPIPE);
    }

    void retry(std::size_t index) {
        Connection &connection = connections_[index];
        ++phase().retried;
        close_connection(connection);
        connection.retrying = true;
        start(index);
    }

    void check_deadlines(std::uint64_t now) {
        for (std::size_t index = 0; index < connections_.size(); ++index) {
            Connection &connection = connections_[index];
            if (connection.deadline_ns > now) continue;
            if (connection.state == State::backoff) {
                connection.state = State::idle;
                if (options_.mode != Mode::idle) start(index);
            } else if (connection.state == State::connecting || connection.state == State::sending ||
                       connection.state == State::awaiting) {
                record_error(timeout, "no answer in time");
                if (options_.mode == Mode::idle) {
                    close_connection(connection);
                } else if (options_.mode == Mode::dgram && connection.state != State::connecting) {
                    start(index);  // the same socket, a new sequence number
                } else if (options_.persistent) {
                    back_off(connection);  // lost: a persistent client does not try again
                } else {
                    close_connection(connection);
                    start(index);
                }
            }
        }
    }

    // ---- closed loop: stream, connect, dgram --------------------------------------------

    int run_closed_loop() {
        const std::uint64_t begin = bench::now_ns();
        const std::uint64_t end =
            options_.duration > 0 ? begin + static_cast<std::uint64_t>(options_.duration * 1e9) : UINT64_MAX;
        for (std::size_t index = 0; index < connections_.size(); ++index) {
            connections_[index].source = static_cast<int>(index);
            start(index);
        }
        std::vector<epoll_event> events(1024);
        std::uint64_t last_check = begin;
        std::uint64_t phase_since = begin;
        int current_phase = 0;
        for (;;) {
            const int count = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 10);
            for (int i = 0; i < count; ++i) {
                const auto index = static_cast<std::size_t>(events[i].data.u64);
                Connection &connection = connections_[index];
                if (connection.state == State::connecting) {
                    on_writable(index);
                    continue;
                }
                if (connection.state == State::sending) {
                    transmit(index);
                    continue;
                }
                if (connection.state != State::awaiting) continue;
                if (!on_readable(index)) continue;
                if (options_.mode == Mode::connect || connection.server_closes) close_connection(connection);
                start(index);
            }
            const std::uint64_t now = bench::now_ns();
            if (current_phase != phase_requested) {
                phases_[current_phase].seconds += static_cast<double>(now - phase_since) / 1e9;
                phase_since = now;
                current_phase = phase_requested;
            }
            if (now >= end || stop_requested) {
                phases_[current_phase].seconds += static_cast<double>(now - phase_since) / 1e9;
                break;
            }
            if (now - last_check >= 20'000'000) {
                check_deadlines(now);
                last_check = now;
            }
        }
        for (auto &connection : connections_) close_connection(connection);
        std::string extra;
        if (options_.persistent)
            extra = "\"clients_lost\": " + std::to_string(clients_lost_) + ", \"close_announced\": " +
                    std::to_string(close_announced_) + ", ";
        print_result(static_cast<double>(bench::now_ns() - begin) / 1e9, extra.empty() ? nullptr : &extra);
        return 0;
    }

    // ---- idle: open, answer once, hold, answer again ------------------------------------

    // Runs until every connection in `pending` has an answer or has failed.
    std::size_t answer_round(bool open_first) {
        constexpr std::size_t kConnectingAtOnce = 256;  // stays inside any listen backlog
        std::size_t next_to_open = open_first ? 0 : connections_.size();
        if (!open_first) {
            for (std::size_t index = 0; index < connections_.size(); ++index) {
                Connection &connection = connections_[index];
                connection.answered_in_round = false;
                if (connection.state != State::held) continue;
                start(index);
            }
        }
        std::vector<epoll_event> events(1024);
        std::uint64_t last_check = bench::now_ns();
        for (;;) {
            std::size_t in_flight = 0;
            for (const auto &connection : connections_)
                in_flight += connection.state == State::connecting || connection.state == State::sending ||
                             connection.state == State::awaiting;
            while (next_to_open < connections_.size() && in_flight < kConnectingAtOnce) {
                start(next_to_open++);
                ++in_flight;
            }
            if (in_flight == 0 && next_to_open >= connections_.size()) break;
            if (stop_requested) break;
            const int count = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 10);
            for (int i = 0; i < count; ++i) {
                const auto index = static_cast<std::size_t>(events[i].data.u64);
                Connection &connection = connections_[index];
                if (connection.state == State::connecting) {
                    on_writable(index);
                } else if (connection.state == State::sending) {
                    transmit(index);
                } else if (on_readable(index)) {
                    connection.state = State::held;
                    connection.answered_in_round = true;
                }
            }
            const std::uint64_t now = bench::now_ns();
            if (now - last_check >= 50'000'000) {
                check_deadlines(now);
                for (auto &connection : connections_)
                    if (connection.state == State::backoff) connection.state = State::idle;  // no retries
                last_check = now;
            }
        }
        return static_cast<std::size_t>(std::count_if(connections_.begin(), connections_.end(),
                                                      [](const Connection &c) { return c.answered_in_round; }));
    }

    // While held, a connection the server closes shows up as readable with end of input.
    void watch_held(int milliseconds) {
        std::vector<epoll_event> events(1024);
        const int count = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), milliseconds);
        for (int i = 0; i < count; ++i) {
            Connection &connection = connections_[static_cast<std::size_t>(events[i].data.u64)];
            char byte;
            const ssize_t received = ::recv(connection.fd, &byte, 1, MSG_PEEK);
            if (received == 0 || (received < 0 && errno != EAGAIN)) {
                record_error(received == 0 ? eof : kind_of(errno), "held connection closed");
                close_connection(connection);
            }
        }
    }

    int run_idle() {
        const std::uint64_t begin = bench::now_ns();
        const std::size_t held = answer_round(true);
        std::printf("held %zu\n", held);
        std::fflush(stdout);
        const std::uint64_t hold_end =
            options_.duration > 0 ? bench::now_ns() + static_cast<std::uint64_t>(options_.duration * 1e9) : UINT64_MAX;
        while (!release_requested && !stop_requested && bench::now_ns() < hold_end) watch_held(100);
        phase_requested = 0;
        const std::size_t answered_again = answer_round(false);
        std::string extra = "\"opened\": " + std::to_string(connections_.size()) + ", \"held\": " +
                            std::to_string(held) + ", \"answered_after_hold\": " + std::to_string(answered_again) +
                            ", ";
        for (auto &connection : connections_) close_connection(connection);
        print_result(static_cast<double>(bench::now_ns() - begin) / 1e9, &extra);
        return 0;
    }

    // ---- the result ------------------------------------------------------------------------

    static std::string stats_json(const PhaseStats &stats, double seconds) {
        const auto micros = [&](double fraction) { return static_cast<double>(stats.latency.percentile(fraction)) / 1e3; };
        std::string errors;
        std::uint64_t error_total = 0;
        for (int kind = 0; kind < kErrorKinds; ++kind) {
            errors += std::string(kind ? ", " : "") + "\"" + kErrorNames[kind] + "\": " + std::to_string(stats.errors[kind]);
            error_total += stats.errors[kind];
        }
        char text[512];
        std::snprintf(text, sizeof text,
                      "\"seconds\": %.3f, \"requests\": %llu, \"rps\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
                      "\"p99_us\": %.1f, \"max_us\": %.1f, \"retried\": %llu, \"error_total\": %llu, ",
                      seconds, static_cast<unsigned long long>(stats.requests),
                      seconds > 0 ? static_cast<double>(stats.requests) / seconds : 0.0, micros(0.50), micros(0.90),
                      micros(0.99), static_cast<double>(stats.latency.max()) / 1e3,
                      static_cast<unsigned long long>(stats.retried), static_cast<unsigned long long>(error_total));
        return std::string(text) + "\"errors\": {" + errors + "}";
    }

    void print_result(double seconds, const std::string *extra) const {
        PhaseStats total;
        for (const auto &stats : phases_) {
            total.requests += stats.requests;
            total.retried += stats.retried;
            for (int kind = 0; kind < kErrorKinds; ++kind) total.errors[kind] += stats.errors[kind];
            total.latency.merge(stats.latency);
        }
        static constexpr const char *kModeNames[] = {"stream", "connect", "dgram", "idle"};
        std::printf("{\"mode\": \"%s\", \"target\": \"%s\", \"connections\": %d, \"size\": %zu, %s%s, \"phases\": "
                    "{\"steady\": {%s}, \"reload\": {%s}}}\n",
                    kModeNames[static_cast<int>(options_.mode)], options_.target.c_str(), options_.connections,
                    options_.size, extra != nullptr ? extra->c_str() : "", stats_json(total, seconds).c_str(),
                    stats_json(phases_[0], phases_[0].seconds).c_str(),
                    stats_json(phases_[1], phases_[1].seconds).c_str());
        std::fflush(stdout);
    }

    Options options_;
    bench::Endpoint target_;
    bench::UniqueFd epoll_;
    std::vector<Connection> connections_;
    std::uint64_t next_sequence_ = 0;
    std::uint64_t clients_lost_ = 0;     // --persistent: clients whose one connection failed
    std::uint64_t close_announced_ = 0;  // --http: answers that said "Connection: close"
    PhaseStats phases_[2];
    int other_messages_ = 0;
    std::FILE *slow_log_ = nullptr;
};

Options parse_options(int argc, char **argv) {
    Options options;
    bool timeout_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) bench::die(flag + ": needs a value");
            return argv[++i];
        };
        if (flag == "--target") options.target = value();
        else if (flag == "--mode") {
            const std::string mode = value();
            options.mode_given = true;
            if (mode == "stream") options.mode = Mode::stream;
            else if (mode == "connect") options.mode = Mode::connect;
            else if (mode == "dgram") options.mode = Mode::dgram;
            else if (mode == "idle") options.mode = Mode::idle;
            else bench::die("--mode: unknown mode '" + mode + "' (stream, connect, dgram or idle)");
        } else if (flag == "--connections") options.connections = std::stoi(value());
        else if (flag == "--size") options.size = std::stoul(value());
        else if (flag == "--duration") options.duration = std::stod(value());
        else if (flag == "--timeout-ms") {
            options.timeout_ms = std::stoi(value());
            timeout_given = true;
        } else if (flag == "--sources") options.sources = std::stoi(value());
        else if (flag == "--http") options.http = true;
        else if (flag == "--persistent") options.persistent = true;
        else if (flag == "--slow-log") options.slow_log = value();
        else if (flag == "--slow-us") options.slow_us = std::stoull(value());
        else bench::die("unknown option " + flag + " (see the comment at the top of bench/loadgen.cpp)");
    }
    if (options.target.empty()) bench::die("--target is required");
    if (options.connections < 1) bench::die("--connections must be at least 1");
    if (!timeout_given && options.mode == Mode::idle) options.timeout_ms = 20000;
    return options;
}

}  // namespace

int main(int argc, char **argv) {
    const Options options = parse_options(argc, argv);
    const rlim_t limit = bench::raise_descriptor_limit();
    if (static_cast<rlim_t>(options.connections) + 64 > limit)
        bench::die("--connections " + std::to_string(options.connections) + " needs more descriptors than the limit " +
                   std::to_string(limit) + " (raise the hard limit: ulimit -Hn)");
    struct sigaction action{};
    action.sa_handler = on_stop;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    action.sa_handler = on_usr1;
    ::sigaction(SIGUSR1, &action, nullptr);
    action.sa_handler = on_usr2;
    ::sigaction(SIGUSR2, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    LoadGenerator generator(options);
    return generator.run();
}
