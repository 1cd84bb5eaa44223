// Steady client load for reload tests: many clients, each classifying every failure a
// user could see. Requests go to the probe plugin's "echo" command.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace sockhost::test {

struct LoadCounts {
    long served = 0;
    long refused = 0;    // connect refused
    long reset = 0;      // ECONNRESET / EPIPE, or any other socket error
    long early_eof = 0;  // the connection closed before the whole answer
    long timed_out = 0;  // no (complete) answer within the request timeout
    long wrong = 0;      // an answer, but not the one asked for
    // Keep-alive only: the server closed an idle connection as the next request was being
    // sent (a drain closes idle connections between requests; a client retries the request
    // on a new connection, as HTTP clients do). Not an error; the retry must succeed.
    long idle_closes = 0;

    long errors() const { return refused + reset + early_eof + timed_out + wrong; }
    std::string describe() const;
};

class ClientLoad {
public:
    struct Targets {
        std::string tcp;          // "tcp://127.0.0.1:PORT"
        std::string udp;          // "udp://127.0.0.1:PORT"
        std::string unix_stream;  // "unix:/path"
    };
    // Starts `per_kind` clients of each kind: a new TCP connection per request, TCP
    // keep-alive, UDP, and a new Unix stream connection per request.
    // A request not answered within `timeout` counts as timed out.
    ClientLoad(Targets targets, int per_kind, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~ClientLoad();
    ClientLoad(const ClientLoad &) = delete;
    ClientLoad &operator=(const ClientLoad &) = delete;

    // Totals so far, per kind and overall.
    LoadCounts counts() const;
    LoadCounts counts_of(int kind) const;  // 0 tcp, 1 keep-alive, 2 udp, 3 unix
    void stop();

private:
    struct Tally {
        std::atomic<long> served{0}, refused{0}, reset{0}, early_eof{0}, timed_out{0}, wrong{0}, idle_closes{0};
    };
    void run_client(int kind, int id);

    Targets targets_;
    std::chrono::milliseconds timeout_;
    std::atomic<bool> stopping_{false};
    Tally tallies_[4];
    std::vector<std::thread> threads_;
};

}  // namespace sockhost::test
