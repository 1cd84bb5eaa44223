// The http plugin's metrics: responses sent, by status class, one counter each
// (http_responses_1xx_total .. http_responses_5xx_total; the host's metrics carry no
// plugin labels, docs/plugin-sdk.md "Metrics").
#ifndef SOCKHOST_EXAMPLES_RESPONSE_COUNTERS_HPP
#define SOCKHOST_EXAMPLES_RESPONSE_COUNTERS_HPP

#include <sockhost/plugin.hpp>

#include <array>
#include <string_view>

class ResponseCounters {
public:
    explicit ResponseCounters(const sockhost::sdk::InstanceContext &context)
        : by_class_{context.counter("http_responses_1xx_total", "HTTP responses sent with a 1xx status"),
                    context.counter("http_responses_2xx_total", "HTTP responses sent with a 2xx status"),
                    context.counter("http_responses_3xx_total", "HTTP responses sent with a 3xx status"),
                    context.counter("http_responses_4xx_total", "HTTP responses sent with a 4xx status"),
                    context.counter("http_responses_5xx_total", "HTTP responses sent with a 5xx status")} {}

    // `response` is one of Responses' buffers: "HTTP/1.1 NNN ...".
    void count(std::string_view response) const noexcept {
        constexpr std::size_t kStatusAt = sizeof("HTTP/1.1 ") - 1;
        if (response.size() <= kStatusAt) return;
        const int status_class = response[kStatusAt] - '0';
        if (status_class >= 1 && status_class <= 5) by_class_[static_cast<std::size_t>(status_class - 1)].inc();
    }

private:
    std::array<sockhost::sdk::Counter, 5> by_class_;
};

#endif  // SOCKHOST_EXAMPLES_RESPONSE_COUNTERS_HPP
