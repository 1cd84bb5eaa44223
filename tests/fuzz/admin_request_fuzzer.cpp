// The admin endpoint's request handling (supervisor/admin_http.cpp): any bytes a client
// sends get an answer or a wait for more, never a crash; an answer is a whole HTTP/1.1
// response.
#include <sockhost/host/supervisor/admin_http.hpp>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const sockhost::AdminPages pages{[] { return true; }, [] { return std::string("sockhost_generation 1\n"); }};
    const auto answer = sockhost::answer_admin_request(
        std::string_view(reinterpret_cast<const char *>(data), size), pages);
    if (answer && !answer->starts_with("HTTP/1.1 ")) std::abort();
    return 0;
}
