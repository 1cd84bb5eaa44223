#include "plugin_paths.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Instance;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::run;

const Plugin &http() {
    static const Plugin plugin(example_plugin("http"));
    return plugin;
}

constexpr std::string_view kDefaultBody = "Hello from sockhost\n";
constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

struct Response {
    std::string status_line;
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;

    bool has(const std::string &name) const { return headers.count(name) != 0; }
    std::string header(const std::string &name) const {
        const auto found = headers.find(name);
        return found == headers.end() ? "" : found->second;
    }
};

// Splits the output into responses; the n-th answers a HEAD when heads[n] (no body then).
std::vector<Response> parse_responses(std::string_view output, std::vector<bool> heads = {}) {
    std::vector<Response> responses;
    while (!output.empty()) {
        const std::size_t head_end = output.find("\r\n\r\n");
        if (head_end == std::string_view::npos) {
            ADD_FAILURE() << "incomplete response head: " << output;
            break;
        }
        Response response;
        std::string_view head = output.substr(0, head_end + 2);
        std::size_t line_end = head.find("\r\n");
        response.status_line = std::string(head.substr(0, line_end));
        if (response.status_line.size() >= 12) response.status = std::stoi(response.status_line.substr(9, 3));
        head.remove_prefix(line_end + 2);
        while (!head.empty()) {
            line_end = head.find("\r\n");
            const std::string_view line = head.substr(0, line_end);
            const std::size_t colon = line.find(':');
            std::string name(line.substr(0, colon));
            for (char &c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            response.headers[name] = std::string(line.substr(colon + 2));
            head.remove_prefix(line_end + 2);
        }
        output.remove_prefix(head_end + 4);
        const bool head_only = responses.size() < heads.size() && heads[responses.size()];
        if (!head_only) {
            const std::size_t length = std::stoul(response.header("content-length"));
            if (length > output.size()) {
                ADD_FAILURE() << "body shorter than Content-Length";
                break;
            }
            response.body = std::string(output.substr(0, length));
            output.remove_prefix(length);
        }
        responses.push_back(std::move(response));
    }
    return responses;
}

sockhost::sdk::testing::RunResult serve(std::string request, std::string_view config = "{}",
                                   std::size_t max_read_bytes = 0) {
    Input input;
    input.bytes = std::move(request);
    input.max_read_bytes = max_read_bytes;
    return run(http(), config, input);
}

TEST(HttpPlugin, AnswersGetWithTheBodyAndKeepsAlive) {
    const auto result = serve(std::string(kGet));
    EXPECT_TRUE(result.ok()) << result.error;
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(responses[0].header("server"), "sockhost");
    EXPECT_EQ(responses[0].header("content-length"), std::to_string(kDefaultBody.size()));
    EXPECT_FALSE(responses[0].has("connection"));  // keep-alive is HTTP/1.1's default
    EXPECT_EQ(responses[0].body, kDefaultBody);
    EXPECT_EQ(result.write_count, 1u);  // header and body in one write
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST(HttpPlugin, AnswersPipelinedRequestsInOrderAndSendsThemTogether) {
    const std::string requests = std::string(kGet) + "HEAD /x HTTP/1.1\r\nHost: example\r\n\r\n" +
                                 std::string(kGet);
    const auto result = serve(requests);
    const auto responses = parse_responses(result.output, {false, true, false});
    ASSERT_EQ(responses.size(), 3u);
    for (const auto &response : responses) EXPECT_EQ(response.status, 200);
    EXPECT_EQ(responses[1].body, "");
    EXPECT_EQ(result.write_count, 3u);
    EXPECT_EQ(result.flush_count, 1u);  // the three arrived together and leave together
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST(HttpPlugin, ParsesRequestsArrivingByteByByte) {
    const std::string requests = "\r\n" + std::string(kGet) +
                                 "POST /form HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" +
                                 "GET / HTTP/1.1\nHost: bare-lf\n\n";
    const auto result = serve(requests, "{}", 1);
    EXPECT_TRUE(result.ok()) << result.error;
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 3u);
    EXPECT_EQ(responses[0].status, 200);
    EXPECT_EQ(responses[1].status, 405);
    EXPECT_EQ(responses[2].status, 200);
    EXPECT_EQ(result.bytes_read, requests.size());
}

TEST(HttpPlugin, HonoursConnectionClose) {
    const auto result =
        serve("GET / HTTP/1.1\r\nHost: example\r\nConnection: Keep-Alive, close\r\n\r\n" + std::string(kGet));
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);  // the request after it is not answered
    EXPECT_EQ(responses[0].header("connection"), "close");
    EXPECT_EQ(responses[0].body, kDefaultBody);
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST(HttpPlugin, ClosesHttp10UnlessAskedToKeepAlive) {
    const std::string http10 = "GET / HTTP/1.0\r\n\r\n";
    auto responses = parse_responses(serve(http10 + http10).output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].header("connection"), "close");

    const std::string keep_alive = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    responses = parse_responses(serve(keep_alive + http10).output);
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].header("connection"), "keep-alive");
    EXPECT_EQ(responses[1].header("connection"), "close");
}

TEST(HttpPlugin, AnswersHeadWithoutTheBody) {
    const auto result = serve("HEAD / HTTP/1.1\r\nHost: example\r\n\r\n");
    const auto responses = parse_responses(result.output, {true});
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 200);
    EXPECT_EQ(responses[0].header("content-length"), std::to_string(kDefaultBody.size()));
    EXPECT_EQ(result.output.find("Hello"), std::string::npos);
}

TEST(HttpPlugin, RefusesOtherMethodsWith405AndKeepsTheConnection) {
    const auto result = serve("DELETE / HTTP/1.1\r\nHost: example\r\n\r\n" + std::string(kGet));
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].status_line, "HTTP/1.1 405 Method Not Allowed");
    EXPECT_EQ(responses[0].header("allow"), "GET, HEAD");
    EXPECT_EQ(responses[1].status, 200);
    // Methods are case-sensitive: "get" is another method.
    EXPECT_EQ(parse_responses(serve("get / HTTP/1.1\r\n\r\n").output).at(0).status, 405);
}

struct Malformed {
    const char *name;
    std::string request;
};

class HttpMalformedRequest : public ::testing::TestWithParam<Malformed> {};

TEST_P(HttpMalformedRequest, Gets400AndTheConnectionCloses) {
    const auto result = serve(GetParam().request + std::string(kGet));
    EXPECT_TRUE(result.ok()) << result.error;  // a bad client is not a plugin failure
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u) << result.output;
    EXPECT_EQ(responses[0].status_line, "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(responses[0].header("connection"), "close");
}

INSTANTIATE_TEST_SUITE_P(
    RequestLinesAndHeaders, HttpMalformedRequest,
    ::testing::Values(
        Malformed{"NoVersion", "GET /\r\n\r\n"},
        Malformed{"TwoSpaces", "GET  / HTTP/1.1\r\n\r\n"},
        Malformed{"TrailingSpace", "GET / HTTP/1.1 \r\n\r\n"},
        Malformed{"NotHttp", "GET / HTTX/1.1\r\n\r\n"},
        Malformed{"BadVersionDigit", "GET / HTTP/1.x\r\n\r\n"},
        Malformed{"MethodNotAToken", "G(T / HTTP/1.1\r\n\r\n"},
        Malformed{"ControlInTarget", "GET /a\x01 HTTP/1.1\r\n\r\n"},
        Malformed{"HeaderWithoutColon", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n"},
        Malformed{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : example\r\n\r\n"},
        Malformed{"EmptyHeaderName", "GET / HTTP/1.1\r\n: empty name\r\n\r\n"},
        Malformed{"ObsoleteLineFolding", "GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n"},
        Malformed{"BareCrInValue", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"},
        Malformed{"ContentLengthNotANumber", "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"},
        Malformed{"ContentLengthSigned", "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"},
        Malformed{"ContentLengthOverflow",
                  "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"},
        Malformed{"ContentLengthsDiffer",
                  "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}),
    [](const ::testing::TestParamInfo<Malformed> &param_info) { return std::string(param_info.param.name); });

TEST(HttpPlugin, AnswersTransferEncodingWith501) {
    const auto result =
        serve("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + std::string(kGet));
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status_line, "HTTP/1.1 501 Not Implemented");
    EXPECT_EQ(responses[0].header("connection"), "close");
}

TEST(HttpPlugin, AnswersOtherMajorVersionsWith505) {
    const auto responses = parse_responses(serve("GET / HTTP/2.0\r\n\r\n").output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 505);
}

TEST(HttpPlugin, AnswersOversizedHeadersWith431) {
    const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
    const auto result = serve(big + std::string(kGet));
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status_line, "HTTP/1.1 431 Request Header Fields Too Large");
    EXPECT_EQ(responses[0].header("connection"), "close");
    EXPECT_GE(result.bytes_read, big.size());  // the rest of the head was read, not left unread
}

TEST(HttpPlugin, AppliesMaxHeaderBytesExactly) {
    const std::string head = "GET / HTTP/1.1\r\nX-Pad: " + std::string(40, 'p') + "\r\n\r\n";
    const std::string at_limit = R"({"max_header_bytes": )" + std::to_string(head.size()) + "}";
    const std::string below = R"({"max_header_bytes": )" + std::to_string(head.size() - 1) + "}";
    EXPECT_EQ(parse_responses(serve(head, at_limit).output).at(0).status, 200);
    EXPECT_EQ(parse_responses(serve(head, below).output).at(0).status, 431);
    EXPECT_EQ(parse_responses(serve(head, below, 5).output).at(0).status, 431);
}

TEST(HttpPlugin, AnswersBodiesOverTheLimitWith413) {
    const std::string body(2'000'000, 'b');
    const auto result = serve("POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + body);
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status_line, "HTTP/1.1 413 Content Too Large");
    EXPECT_EQ(responses[0].header("connection"), "close");

    const std::string limit = R"({"max_body_bytes": 10})";
    EXPECT_EQ(parse_responses(serve("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890", limit).output)
                  .at(0).status, 413);
    EXPECT_EQ(parse_responses(serve("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limit).output)
                  .at(0).status, 405);
}

TEST(HttpPlugin, DiscardsBodiesWithinTheLimitAndServesWhatFollows) {
    const std::string body(300'000, 'x');
    const std::string requests = "GET / HTTP/1.1\r\nContent-Length: 300000\r\n\r\n" + body + std::string(kGet);
    for (const std::size_t piece : {std::size_t{0}, std::size_t{7777}}) {
        const auto result = serve(requests, "{}", piece);
        EXPECT_TRUE(result.ok()) << result.error;
        const auto responses = parse_responses(result.output);
        ASSERT_EQ(responses.size(), 2u);
        EXPECT_EQ(responses[0].status, 200);
        EXPECT_EQ(responses[1].status, 200);
    }
}

TEST(HttpPlugin, TakesItsBodyFromConfig) {
    const auto result = serve(std::string(kGet), R"({"body": "custom\n", "content_type": "text/html"})");
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].body, "custom\n");
    EXPECT_EQ(responses[0].header("content-length"), "7");
    EXPECT_EQ(responses[0].header("content-type"), "text/html");
}

TEST(HttpPlugin, RejectsBadConfigNamingTheKey) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"bodyy": "x"})", "'bodyy'"},
        {R"({"body": 5})", "'body'"},
        {R"({"max_header_bytes": "big"})", "'max_header_bytes'"},
        {R"({"max_header_bytes": 10})", "'max_header_bytes'"},
        {R"({"max_body_bytes": -1})", "'max_body_bytes'"},
        {R"({"content_type": "a\r\nX: y"})", "'content_type'"},
        {R"({"header_timeout": 0})", "'header_timeout' must be an integer from 1 to 3600"},
    };
    for (const auto &[config, key] : cases) {
        const auto result = serve(std::string(kGet), config);
        EXPECT_EQ(result.create, SOCKHOST_ERROR) << config;
        EXPECT_NE(result.create_error.find(key), std::string::npos) << result.create_error;
    }
}

TEST(HttpPlugin, ServesStreamsOnly) {
    const Instance instance(http());
    Input input;
    input.transport = SOCKHOST_TRANSPORT_UNIX_STREAM;
    input.bytes = std::string(kGet);
    EXPECT_EQ(parse_responses(instance.serve(input).output).at(0).status, 200);
    input.transport = SOCKHOST_TRANSPORT_UDP;
    EXPECT_THROW(instance.serve(input), std::logic_error);
}

TEST(HttpPlugin, EndsQuietlyWhenTheClientLeavesOrIdlesBetweenRequests) {
    Input input;
    input.bytes = std::string(kGet);
    input.read_error = "timed out";  // an idle keep-alive connection
    auto result = run(http(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(parse_responses(result.output).size(), 1u);

    result = serve("GET / HTTP/1.1\r\nHost: exa");  // the client left mid-head
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.output, "");
}

TEST(HttpPlugin, FailsWhenAReadFailsMidRequest) {
    Input input;
    input.bytes = "GET / HTTP/1.1\r\nHost: exa";
    input.read_error = "timed out";
    const auto result = run(http(), "{}", input);
    EXPECT_EQ(result.handle, SOCKHOST_ERROR);
    EXPECT_EQ(result.error, "timed out");
}

// A head's reads wait no longer than header_timeout leaves (the host's timeout restarts with
// every byte); the body and the idle wait between requests get the host's timeout back.
TEST(HttpPlugin, WaitsForAHeadAtMostItsHeaderTimeoutAndRestoresTheHostTimeout) {
    Input input;
    input.bytes = "GET / HTTP/1.1\r\nHost: exa";
    input.read_error = "timed out";
    input.timeout_ms = 60000;
    auto result = run(http(), R"({"header_timeout": 3})", input);
    EXPECT_GT(result.timeout_ms, 0u);
    EXPECT_LE(result.timeout_ms, 3000u);

    input.bytes = std::string(kGet);
    result = run(http(), R"({"header_timeout": 3})", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.timeout_ms, 60000u);
}

}  // namespace

namespace {

TEST(HttpPlugin, SaysItIsBetweenRequestsOnlyWhenNothingOfTheNextIsBuffered) {
    // Arriving one request per read: idle after each response.
    Input separate;
    separate.bytes = std::string(kGet) + std::string(kGet);
    separate.max_read_bytes = kGet.size();
    const auto one_by_one = run(http(), "{}", separate);
    EXPECT_EQ(one_by_one.between_requests_at, (std::vector<std::size_t>{kGet.size(), 2 * kGet.size()}));
    // Pipelined in one read: the second is already buffered after the first response.
    const auto pipelined = serve(std::string(kGet) + std::string(kGet));
    EXPECT_EQ(pipelined.between_requests_at, (std::vector<std::size_t>{2 * kGet.size()}));
    // Mid-body is never "between requests".
    const auto with_body = serve("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel", "{}");
    EXPECT_TRUE(with_body.between_requests_at.empty());
}

}  // namespace

namespace {

// The host's stopping() (a reload, SIGTERM): the response at hand says "Connection: close"
// and the connection ends after it, as nginx does while exiting, so that the client does
// not send a next request into a connection the host is about to close.
TEST(HttpPlugin, ClosesAfterTheCurrentResponseOnceTheHostIsStopping) {
    Input input;
    input.bytes = std::string(kGet) + std::string(kGet);  // pipelined: the second is left
    input.draining = true;
    const auto result = run(http(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 200);
    EXPECT_EQ(responses[0].header("connection"), "close");
    EXPECT_EQ(responses[0].body, kDefaultBody);
    EXPECT_TRUE(result.between_requests_at.empty());
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST(HttpPlugin, KeepsAliveUntilTheHostStartsStopping) {
    Input input;
    input.bytes = std::string(kGet) + std::string(kGet) + std::string(kGet);
    input.max_read_bytes = kGet.size();  // one request per read
    input.draining_after_bytes_read = kGet.size() + 1;  // while the second arrives
    const auto result = run(http(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 2u);  // the third request is never read
    EXPECT_FALSE(responses[0].has("connection"));
    EXPECT_EQ(responses[1].header("connection"), "close");
    EXPECT_EQ(result.bytes_read, 2 * kGet.size());
    EXPECT_EQ(result.between_requests_at, std::vector<std::size_t>{kGet.size()});
    EXPECT_EQ(result.stopping_seen_at, std::vector<std::size_t>{2 * kGet.size()});
}

TEST(HttpPlugin, EveryKeptAliveResponseKindClosesWhileStopping) {
    for (const std::string request :
         {"HEAD / HTTP/1.1\r\n\r\n", "DELETE / HTTP/1.1\r\n\r\n", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"}) {
        Input input;
        input.bytes = request + std::string(kGet);
        input.draining = true;
        const auto result = run(http(), "{}", input);
        const auto responses = parse_responses(result.output, {request.starts_with("HEAD")});
        ASSERT_EQ(responses.size(), 1u) << request;
        EXPECT_EQ(responses[0].header("connection"), "close") << request;
    }
}

}  // namespace

namespace {

TEST(HttpPlugin, OptsInToHandOff) {
    EXPECT_EQ(http().descriptor().handoff, static_cast<std::uint32_t>(SOCKHOST_HANDOFF_CONNECTIONS));
    EXPECT_STREQ(http().descriptor().version, "1.3.0");
}

// A reload moves a kept-alive connection once it is idle: the response went out without
// "Connection: close" (stopping() stays false for it), and the requests not yet read go
// with the connection, so every byte is answered here or moves.
TEST(HttpPlugin, AKeptAliveConnectionMovesWhenIdleWithTheRequestsNotYetRead) {
    Input input;
    input.bytes = std::string(kGet) + std::string(kGet) + std::string(kGet);
    input.max_read_bytes = kGet.size();  // one request per read
    input.hand_off_after_bytes_read = 0;
    const auto result = run(http(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_FALSE(responses[0].has("connection"));
    EXPECT_TRUE(result.handed_off);
    EXPECT_EQ(result.handed_off_bytes, std::string(kGet) + std::string(kGet));
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

// Part of the next request in http's own buffer: not idle, so the connection is not moved
// there (the part would be lost); it moves once everything it read is answered.
TEST(HttpPlugin, DoesNotMoveWhileItHoldsPartOfTheNextRequest) {
    Input input;
    input.bytes = std::string(kGet) + std::string(kGet) + std::string(kGet);
    input.max_read_bytes = kGet.size() * 3 / 2;  // a request and a half per read
    input.hand_off_after_bytes_read = 0;
    const auto result = run(http(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(parse_responses(result.output).size(), 3u);
    EXPECT_EQ(result.between_requests_at, std::vector<std::size_t>{3 * kGet.size()});
    EXPECT_TRUE(result.handed_off);
    EXPECT_EQ(result.handed_off_bytes, "");
}

// A connection the previous generation handed over is served as any new one.
TEST(HttpPlugin, ServesAHandedOverConnectionAsANewOne) {
    Input input;
    input.bytes = std::string(kGet);
    input.handed_over_state = "";
    const auto result = run(http(), "{}", input);
    EXPECT_TRUE(result.ok()) << result.error;
    const auto responses = parse_responses(result.output);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 200);
}

}  // namespace

namespace {

// Metrics (ABI 1.3): one counter per status class, read through the harness by name.
TEST(HttpPlugin, CountsResponsesByStatusClass) {
    Instance instance(http());
    ASSERT_TRUE(instance.ready());
    Input input;
    input.bytes = std::string(kGet) + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + std::string(kGet);
    EXPECT_TRUE(instance.serve(input).ok());
    Input malformed;
    malformed.bytes = "NOT HTTP\r\n\r\n";
    instance.serve(malformed);
    EXPECT_EQ(instance.metric("http_responses_2xx_total"), 2.0);
    EXPECT_EQ(instance.metric("http_responses_4xx_total"), 2.0);  // 405, then 400
    EXPECT_EQ(instance.metric("http_responses_1xx_total"), 0.0);
    EXPECT_EQ(instance.metric("http_responses_3xx_total"), 0.0);
    EXPECT_EQ(instance.metric("http_responses_5xx_total"), 0.0);
    EXPECT_EQ(instance.log().size(), 0u) << "every declaration accepted: " << instance.log()[0].message;
}

}  // namespace
