// echo: sends back what it receives. On a stream, chunk by chunk until end of input; on a
// datagram, the packet as the reply. A reload moves an idle stream to the next generation
// (echo keeps nothing of a connection but what it has not read, which moves with it).
#include <sockhost/config.hpp>
#include <sockhost/plugin.hpp>

#include <memory>
#include <span>

namespace {

// Where each chunk is read, without an allocation per request (a datagram is a request):
// - a small stack buffer serves datagrams and interactive streams. Small, because event-mode
//   requests run on fiber stacks that may be as small as 16 KiB, host frames included; a
//   larger datagram is read in pieces and still echoed as one reply.
// - a stream that fills it (bulk data) moves to one heap buffer for the rest of the
//   connection, so that large transfers keep large reads and sends.
// Not a member (instances serve many threads at once) and not thread_local: in the event
// mode, requests on one thread interleave, and a write may send from this buffer while its
// request is suspended.
constexpr std::size_t kStackChunkBytes = 4 * 1024;
constexpr std::size_t kBulkChunkBytes = 64 * 1024;

class Echo {
public:
    static constexpr bool hand_off_connections = true;

    explicit Echo(std::string_view config_json) { sockhost::sdk::Config("echo", config_json, {}); }

    void handle(sockhost::sdk::Request &request) {
        char small[kStackChunkBytes];
        std::unique_ptr<char[]> bulk;
        std::span<char> chunk(small);
        const bool stream = !request.is_datagram();
        while (const std::size_t count = request.read(chunk.data(), chunk.size())) {
            request.write({chunk.data(), count});
            request.flush();  // a no-op for datagrams: their reply goes at finish
            request.between_requests();  // all echoed: a stopping host need not wait
            if (stream && !bulk && count == chunk.size()) {
                bulk = std::make_unique_for_overwrite<char[]>(kBulkChunkBytes);
                chunk = {bulk.get(), kBulkChunkBytes};
            }
        }
    }
};

}  // namespace

SOCKHOST_PLUGIN(Echo, "echo", "1.1.0", SOCKHOST_TRANSPORTS_ALL)
