// A handoff channel packet as the supervisor reads it from a worker (which runs plugin
// code, so anything may arrive): decoded, or refused with a reason, never a crash; what is
// accepted holds exactly the bytes the header announced. A batch's states, as a taker
// decodes them from its connection_state: exactly the bytes given, or refused.
#include <sockhost/host/shared/handoff_channel.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const std::string_view packet(reinterpret_cast<const char *>(data), size);
    sockhost::HandoffMessage message;
    const std::string problem = sockhost::HandoffChannel::decode(packet, message);
    if (problem.empty()) {
        constexpr std::size_t kHeader = 32;  // the packed header (handoff_channel.cpp)
        if (kHeader + message.unread.size() + message.connection_state.size() + message.text.size() != size) std::abort();
        if (message.unread.size() > sockhost::HandoffChannel::kMaxUnread) std::abort();
        // The batch size rides in the id here: any count a packet could bring (fds - 1).
        const std::size_t count = message.id % (sockhost::HandoffChannel::kMaxBatch + 1);
        std::string batch_problem;
        const auto states = sockhost::decode_batch_states(message.connection_state, count, batch_problem);
        if (batch_problem.empty()) {
            if (states.size() != count) std::abort();
            if (sockhost::encode_batch_states(states) != message.connection_state) std::abort();
        } else if (!states.empty()) {
            std::abort();
        }
    }
    return 0;
}
