// A plugin of ABI 1.3 that declares one metric of each kind and a few the host must refuse
// (each refusal is logged with the plugin's name and the reason). Each request is one line:
//   COUNT n    adds n to metrics_probe_requests_total
//   SET x      sets metrics_probe_level to x
//   OBSERVE x  observes x in metrics_probe_seconds (bounds 0.1, 1, 10)
// and gets "ok\n" back.
#include <sockhost/plugin.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

namespace {

class MetricsProbe {
public:
    MetricsProbe(std::string_view, sockhost::sdk::InstanceContext &context)
        : requests_(context.counter("metrics_probe_requests_total", "What COUNT lines added")),
          level_(context.gauge("metrics_probe_level", "What the last SET line said")),
          seconds_(context.histogram("metrics_probe_seconds", "What OBSERVE lines said", {0.1, 1, 10})) {
        context.counter("bad name", "a space is not allowed");
        context.counter("sockhost_requests_total", "the host's own prefix");
        context.gauge("metrics_probe_requests_total", "the same name as another kind");
        context.histogram("metrics_probe_unordered", "bounds going down", {2, 1});
    }

    void handle(sockhost::sdk::Request &request) {
        const std::string line = request.read_line();
        const std::string_view text(line);
        const auto argument = [&] { return std::strtod(line.c_str() + line.find(' ') + 1, nullptr); };
        if (text.starts_with("COUNT ")) requests_.add(static_cast<std::uint64_t>(argument()));
        if (text.starts_with("SET ")) level_.set(argument());
        if (text.starts_with("OBSERVE ")) seconds_.observe(argument());
        request.write("ok\n");
    }

private:
    sockhost::sdk::Counter requests_;
    sockhost::sdk::Gauge level_;
    sockhost::sdk::Histogram seconds_;
};

}  // namespace

SOCKHOST_PLUGIN(MetricsProbe, "metrics_probe", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
