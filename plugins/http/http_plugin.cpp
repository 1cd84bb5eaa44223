// http: a small HTTP/1.1 responder for streams (TCP and Unix stream sockets). GET and HEAD
// get 200 with the configured body; other methods 405. Keep-alive is the HTTP/1.1 default
// and "Connection: close" is honoured; HTTP/1.0 closes unless it asks for keep-alive.
// Pipelined requests are answered in order. Once the host is stopping (reload, SIGTERM),
// the next response says "Connection: close" and the connection ends after it. A reload
// instead moves a kept-alive connection that is idle to the next generation: http says
// between_requests only when no part of a next request is in its own buffer, so the host
// holds every byte not yet answered, and for such a connection stopping() stays false.
// Responses are counted by status class (response_counters.hpp). This is the benchmark
// target: see connection.cpp for the hot path.
#include "connection.hpp"
#include "http_config.hpp"
#include "responses.hpp"

#include <sockhost/plugin.hpp>

namespace {

class Http {
public:
    static constexpr bool hand_off_connections = true;

    Http(std::string_view config_json, sockhost::sdk::InstanceContext &context)
        : config_(parse_http_config(config_json)),
          responses_(config_.body, config_.content_type),
          counters_(context) {}

    void handle(sockhost::sdk::Request &request) { Connection(config_, responses_, counters_, request).serve(); }

private:
    HttpConfig config_;
    Responses responses_;
    ResponseCounters counters_;
};

}  // namespace

SOCKHOST_PLUGIN(Http, "http", "1.3.0", SOCKHOST_TRANSPORTS_STREAM)
