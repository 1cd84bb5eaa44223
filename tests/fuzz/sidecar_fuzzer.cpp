// A plugin's sidecar NAME.json, which whoever may write to plugin_dir controls.
#include "accepted_config.hpp"

#include <sockhost/host/shared/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const auto listeners = sockhost::parse_sidecar(text, "/etc/sockhost/plugins", "echo.json", "echo");
    if (listeners) sockhost::fuzz::check_accepted_listeners(*listeners);
    return 0;
}
