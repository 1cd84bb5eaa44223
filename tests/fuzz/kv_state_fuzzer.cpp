// The kv plugin's state decoder (kv_state.hpp), which a reload feeds with bytes exported
// by another process. Whatever the input: no crash, no allocation out of proportion to it,
// a message for every refusal, and every accepted state is exactly what encoding its
// entries again gives (so nothing is skipped or read twice).
#include "kv_state.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char *>(data), size);
    const DecodedKvState decoded = decode_kv_state(bytes);
    if (!decoded.ok()) {
        if (!decoded.entries.empty() || !decoded.error.starts_with("kv state: ")) std::abort();
        return 0;
    }
    for (const auto &[key, value] : decoded.entries)
        if (!is_kv_key(key)) std::abort();
    if (encode_kv_state(decoded.entries) != bytes) std::abort();
    return 0;
}
