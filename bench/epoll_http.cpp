// A hand-written HTTP/1.1 keep-alive responder on the reference loop: every request head
// (up to its blank line) gets the same 200 response, pipelined requests answered in one
// write. It parses nothing else, so it is the floor under any real HTTP server on this
// machine, not a peer to beat (nginx is the peer); the HTTP row shows it for scale.
//
//   epoll_http tcp://127.0.0.1:8080 [BODY]
#include "epoll_stream_server.hpp"

#include <string>

namespace {

class FixedResponder {
public:
    struct State {
        int matched = 0;  // how much of "\r\n\r\n" the previous read ended with
    };

    explicit FixedResponder(const std::string &body)
        : response_("HTTP/1.1 200 OK\r\nServer: epoll_http\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body) {}

    std::string_view answer(State &state, const char *data, std::size_t size) {
        static constexpr char kEnd[] = "\r\n\r\n";
        answers_.clear();
        for (std::size_t i = 0; i < size; ++i) {
            if (data[i] == kEnd[state.matched]) {
                if (++state.matched == 4) {
                    answers_ += response_;
                    state.matched = 0;
                }
            } else {
                state.matched = data[i] == '\r' ? 1 : 0;
            }
        }
        return answers_;
    }

private:
    std::string response_;
    std::string answers_;
};

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) bench::die("usage: epoll_http tcp://HOST:PORT [BODY]");
    const auto endpoint = bench::parse_endpoint(argv[1]);
    if (endpoint.datagram()) bench::die("epoll_http serves streams, not " + endpoint.text);
    bench::raise_descriptor_limit();
    static bench::EpollStreamServer<FixedResponder> server(endpoint,
                                                           FixedResponder(argc == 3 ? argv[2] : "Hello from sockhost\n"));
    server.run();
}
