#include <sockhost/host/worker/modes/stall_watch.hpp>

#include <sockhost/host/shared/log.hpp>

namespace sockhost {

void StallWatch::report(Clock::time_point now, const Request &request) {
    const auto hook = request.hooks().longest_within(mark_, now);
    warn(now, hook ? hook_name(*hook) : "the host", request.peer_text());
}

void StallWatch::report_verify(Clock::time_point now, const RequestIntake &intake) {
    warn(now, "verify", intake.last_peer_text());
}

void StallWatch::warn(Clock::time_point now, std::string_view hook, const std::string &peer) {
    const auto stalled = std::chrono::duration_cast<std::chrono::milliseconds>(now - mark_);
    if (std::string note; log_limit_.admit(note, now))
        log_warning(who_ + ": " + loop_ + " stalled for " + std::to_string(stalled.count()) + " ms in " +
                    std::string(hook) + " for peer " + peer + note);
    // Writing the line is the loop's time, not the next run's.
    mark_ = Clock::now();
}

}  // namespace sockhost
