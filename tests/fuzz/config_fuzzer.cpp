// The config file's text, parsed as the supervisor and every worker parse it.
#include "accepted_config.hpp"

#include <sockhost/host/shared/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const auto config = sockhost::parse_config(text, "/etc/sockhost", "sockhost.json");
    if (config) sockhost::fuzz::check_accepted_config(*config);
    return 0;
}
