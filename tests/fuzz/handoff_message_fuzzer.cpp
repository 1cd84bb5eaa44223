// A handoff channel packet as the supervisor reads it from a worker (which runs plugin
// code, so anything may arrive): decoded, or refused with a reason, never a crash; what is
// accepted holds exactly the bytes the header announced.
#include <sockhost/host/shared/handoff_channel.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view packet(reinterpret_cast<const char *>(data), size);
    sockhost::HandoffMessage message;
    const std::string problem = sockhost::HandoffChannel::decode(packet, message);
    if (problem.empty()) {
        constexpr std::size_t kHeader = 32;  // the packed header (handoff_channel.cpp)
        if (kHeader + message.unread.size() + message.connection_state.size() + message.text.size() != size) std::abort();
        if (message.unread.size() > sockhost::HandoffChannel::kMaxUnread) std::abort();
    }
    return 0;
}
