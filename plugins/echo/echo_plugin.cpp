// echo: sends back what it receives. On a stream, chunk by chunk until end of input; on a
// datagram, the packet as the reply.
#include <sockhost/plugin.hpp>

#include "plugin_config.hpp"

#include <memory>

namespace {

// Large enough for any UDP payload, so a datagram is echoed in one read. On the heap
// because event-mode requests run on small fiber stacks.
constexpr std::size_t kChunkBytes = 64 * 1024;

class Echo {
public:
    explicit Echo(std::string_view config_json) { plugin_config::parse("echo", config_json, {}); }

    void handle(sockhost::Request &request) {
        const auto chunk = std::make_unique_for_overwrite<char[]>(kChunkBytes);
        while (const std::size_t count = request.read(chunk.get(), kChunkBytes)) {
            request.write({chunk.get(), count});
            request.flush();  // a no-op for datagrams: their reply goes at finish
            request.between_requests();  // all echoed: a stopping host need not wait
        }
    }
};

}  // namespace

SOCKHOST_PLUGIN(Echo, "echo", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
