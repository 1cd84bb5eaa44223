// A listener's `listen` string. What is accepted must read back as the same address from
// its text form (which names the listener in the log, in errors and in the comparison
// that refuses two listeners on one address), and hold no NUL byte: getaddrinfo, bind
// and unlink would stop reading there.
#include <sockhost/host/shared/address.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const auto address = sockhost::parse_listen_address(text);
    if (!address) return 0;
    if (address->host.find('\0') != std::string::npos || address->path.find('\0') != std::string::npos)
        std::abort();
    const auto again = sockhost::parse_listen_address(address->text());
    if (!again || again->transport != address->transport || again->host != address->host ||
        again->port != address->port || again->path != address->path)
        std::abort();
    return 0;
}
