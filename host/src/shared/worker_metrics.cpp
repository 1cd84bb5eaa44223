#include <sockhost/host/shared/worker_metrics.hpp>

namespace sockhost {

// The table starts as the memfd's zero bytes (shared_table.hpp).
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free);

std::string_view outcome_name(RequestOutcome outcome) {
    switch (outcome) {
    case RequestOutcome::ok: return "ok";
    case RequestOutcome::error: return "error";
    case RequestOutcome::timeout: return "timeout";
    case RequestOutcome::refused: return "refused";
    case RequestOutcome::denied: return "denied";
    case RequestOutcome::cancelled: return "cancelled";
    case RequestOutcome::handshake_failed: return "handshake_failed";
    }
    return "?";
}

}  // namespace sockhost
