#include "client_load.hpp"

#include "clients.hpp"

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace sockhost::test {

namespace {

enum class Outcome { served, refused, reset, early_eof, timed_out, wrong };

Outcome error_outcome(int error) { return error == ECONNREFUSED ? Outcome::refused : Outcome::reset; }

// Reads `expected.size()` bytes (then, if `until_eof`, the end of the stream) and
// classifies what happened. `received` tells the caller whether any byte arrived.
Outcome read_answer(int fd, const std::string &expected, bool until_eof, bool &received,
                    std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string answer;
    char buffer[256];
    for (;;) {
        if (answer.size() >= expected.size() && !until_eof) break;
        if (!wait_readable(fd, deadline)) return Outcome::timed_out;
        const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return error_outcome(errno);
        if (count == 0) {
            if (answer.size() < expected.size()) return Outcome::early_eof;
            break;
        }
        received = true;
        answer.append(buffer, static_cast<std::size_t>(count));
        if (answer.size() > expected.size()) return Outcome::wrong;
    }
    return answer == expected ? Outcome::served : Outcome::wrong;
}

bool send_request(int fd, const std::string &request, int &error) {
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t count = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            error = errno;
            return false;
        }
        sent += static_cast<std::size_t>(count);
    }
    return true;
}

// An invalid fd if the connection failed (`failure` says how).
UniqueFd connect_stream_to(const SocketAddress &target, Outcome &failure) {
    UniqueFd fd(::socket(target.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), target.get(), target.length) != 0) {
        failure = error_outcome(errno);
        fd.reset();
    }
    return fd;
}

// A new connection for one request: connect, send, half-close, read to the end.
Outcome one_shot(const SocketAddress &target, const std::string &request, const std::string &expected,
                 std::chrono::milliseconds timeout) {
    Outcome failure = Outcome::served;
    UniqueFd fd = connect_stream_to(target, failure);
    if (!fd) return failure;
    int error = 0;
    if (!send_request(fd.get(), request, error)) return error_outcome(error);
    ::shutdown(fd.get(), SHUT_WR);
    bool received = false;
    return read_answer(fd.get(), expected, true, received, timeout);
}

}  // namespace

std::string LoadCounts::describe() const {
    return "served " + std::to_string(served) + ", refused " + std::to_string(refused) + ", reset " +
           std::to_string(reset) + ", early EOF " + std::to_string(early_eof) + ", timed out " +
           std::to_string(timed_out) + ", wrong " + std::to_string(wrong) + ", idle closes retried " +
           std::to_string(idle_closes);
}

ClientLoad::ClientLoad(Targets targets, int per_kind, std::chrono::milliseconds timeout)
    : targets_(std::move(targets)), timeout_(timeout) {
    for (int kind = 0; kind < 4; ++kind)
        for (int id = 0; id < per_kind; ++id) threads_.emplace_back([this, kind, id] { run_client(kind, id); });
}

ClientLoad::~ClientLoad() { stop(); }

void ClientLoad::stop() {
    stopping_.store(true);
    for (auto &thread : threads_)
        if (thread.joinable()) thread.join();
}

LoadCounts ClientLoad::counts_of(int kind) const {
    const Tally &tally = tallies_[kind];
    return {tally.served.load(), tally.refused.load(), tally.reset.load(), tally.early_eof.load(),
            tally.timed_out.load(), tally.wrong.load(), tally.idle_closes.load()};
}

LoadCounts ClientLoad::counts() const {
    LoadCounts total;
    for (int kind = 0; kind < 4; ++kind) {
        const LoadCounts part = counts_of(kind);
        total.served += part.served;
        total.refused += part.refused;
        total.reset += part.reset;
        total.early_eof += part.early_eof;
        total.timed_out += part.timed_out;
        total.wrong += part.wrong;
        total.idle_closes += part.idle_closes;
    }
    return total;
}

void ClientLoad::run_client(int kind, int id) {
    Tally &tally = tallies_[kind];
    const auto count = [&](Outcome outcome) {
        switch (outcome) {
        case Outcome::served: ++tally.served; break;
        case Outcome::refused: ++tally.refused; break;
        case Outcome::reset: ++tally.reset; break;
        case Outcome::early_eof: ++tally.early_eof; break;
        case Outcome::timed_out: ++tally.timed_out; break;
        case Outcome::wrong: ++tally.wrong; break;
        }
    };
    const std::string prefix = "k" + std::to_string(kind) + "c" + std::to_string(id) + "n";
    if (kind == 0 || kind == 3) {
        const SocketAddress target = parse_target(kind == 0 ? targets_.tcp : targets_.unix_stream);
        for (long number = 0; !stopping_.load(); ++number) {
            const std::string word = prefix + std::to_string(number);
            count(one_shot(target, "echo " + word + "\n", word + "\n", timeout_));
        }
        return;
    }
    if (kind == 2) {
        const SocketAddress target = parse_target(targets_.udp);
        UniqueFd fd(::socket(target.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
        ::connect(fd.get(), target.get(), target.length);
        for (long number = 0; !stopping_.load(); ++number) {
            const std::string word = prefix + std::to_string(number);
            const std::string request = "echo " + word + "\n";
            if (::send(fd.get(), request.data(), request.size(), 0) < 0) {
                count(error_outcome(errno));
                continue;
            }
            // Replies to earlier requests that timed out are skipped, not counted twice.
            const auto deadline = std::chrono::steady_clock::now() + timeout_;
            Outcome outcome = Outcome::timed_out;
            char buffer[512];
            while (wait_readable(fd.get(), deadline)) {
                const ssize_t length = ::recv(fd.get(), buffer, sizeof buffer, 0);
                if (length < 0) {
                    outcome = error_outcome(errno);
                    break;
                }
                if (std::string(buffer, static_cast<std::size_t>(length)) == word + "\n") {
                    outcome = Outcome::served;
                    break;
                }
            }
            count(outcome);
        }
        return;
    }
    // Keep-alive: one connection for as long as the server keeps it.
    const SocketAddress target = parse_target(targets_.tcp);
    UniqueFd connection;
    long on_connection = 0;
    for (long number = 0; !stopping_.load(); ++number) {
        const std::string word = prefix + std::to_string(number);
        for (;;) {
            if (!connection) {
                Outcome failure = Outcome::served;
                connection = connect_stream_to(target, failure);
                on_connection = 0;
                if (!connection) {
                    count(failure);
                    break;
                }
            }
            int error = 0;
            bool received = false;
            Outcome outcome = send_request(connection.get(), "echo " + word + "\n", error)
                                  ? read_answer(connection.get(), word + "\n", false, received, timeout_)
                                  : error_outcome(error);
            const bool idle_close = on_connection > 0 && !received &&
                                    (outcome == Outcome::early_eof || outcome == Outcome::reset);
            if (outcome == Outcome::served) {
                ++on_connection;
            } else {
                connection.reset();
            }
            if (idle_close) {
                ++tally.idle_closes;
                continue;  // retry this request on a new connection
            }
            count(outcome);
            break;
        }
    }
}

}  // namespace sockhost::test
