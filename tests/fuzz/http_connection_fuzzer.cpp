// The http plugin's whole connection: the buffer that finds each head's end across reads,
// skips blank lines, discards bodies, drops oversized heads, and answers pipelined
// requests. The plugin is linked in and served through the SDK's harness (no sockets).
// Input: byte 0 is the largest read (0: all at once), byte 1 sets max_header_bytes (64 +
// the byte), the rest is what the client sends. Every answer is a whole HTTP/1.1 response.
#include <sockhost/testing.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *host);

namespace {

// Each response is its head (ending in a blank line) and a Content-Length body; the last
// may be a HEAD's (no body) or cut by the close, so only the heads are checked.
bool is_responses(std::string_view output) {
    while (!output.empty()) {
        if (!output.starts_with("HTTP/1.1 ")) return false;
        const std::size_t head_end = output.find("\r\n\r\n");
        if (head_end == std::string_view::npos) return false;
        const std::size_t next = output.find("HTTP/1.1 ", head_end);
        output.remove_prefix(next == std::string_view::npos ? output.size() : next);
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    using namespace sockhost::sdk::testing;
    static const Plugin plugin(&sockhost_plugin_entry, "http");
    if (size < 2) return 0;
    Input input;
    input.max_read_bytes = data[0] % 32;
    input.bytes.assign(reinterpret_cast<const char *>(data) + 2, size - 2);
    const std::string config =
        R"({"body": "ok\n", "max_body_bytes": 16, "max_header_bytes": )" + std::to_string(64 + data[1]) + "}";
    const RunResult result = run(plugin, config, input);
    if (result.create != SOCKHOST_OK || result.handle != SOCKHOST_OK) std::abort();
    if (result.bytes_read > input.bytes.size() || !is_responses(result.output)) std::abort();
    for (const std::size_t boundary : result.between_requests_at)
        if (boundary > result.bytes_read) std::abort();
    return 0;
}
