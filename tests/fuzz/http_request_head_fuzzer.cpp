// The http plugin's request head, as a client sends it. The input is cut as the plugin's
// connection cuts it (connection.cpp): blank lines before the request line are skipped,
// and the head runs through the first empty line; input without one is no head yet.
#include "request_head.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

// One past the blank line ("\n\n" or "\n\r\n") that ends the head, or 0 when there is none.
std::size_t head_end(std::string_view text) {
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (text[i] != '\n') continue;
        if (text[i + 1] == '\n') return i + 2;
        if (text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n') return i + 3;
    }
    return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    while (!text.empty() && (text.front() == '\r' || text.front() == '\n')) text.remove_prefix(1);
    const std::size_t end = head_end(text);
    if (end == 0) return 0;
    RequestHead head;
    (void)parse_request_head(text.substr(0, end), head);
    return 0;
}
