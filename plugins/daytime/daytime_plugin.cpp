// daytime (RFC 867): one line with the local date and time, e.g.
// "Tuesday, February 22, 1982 17:37:43-PST\r\n". A stream gets the line and is closed; a
// datagram of any content gets the line as its reply.
#include <sockhost/config.hpp>
#include <sockhost/plugin.hpp>

#include <ctime>

namespace {

class Daytime {
public:
    explicit Daytime(std::string_view config_json) { sockhost::sdk::Config("daytime", config_json, {}); }

    void handle(sockhost::sdk::Request &request) {
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        if (localtime_r(&now, &local) == nullptr) throw std::runtime_error("localtime_r failed");
        char line[128];
        const std::size_t length =
            std::strftime(line, sizeof line, "%A, %B %d, %Y %H:%M:%S-%Z\r\n", &local);
        if (length == 0) throw std::runtime_error("strftime: date line too long");
        request.write({line, length});
        request.flush();
    }
};

}  // namespace

SOCKHOST_PLUGIN(Daytime, "daytime", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
