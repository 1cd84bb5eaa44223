// The "reactor stalled" warning of a loop that runs plugin code on its own thread (the
// event mode's fibers, the sync mode's requests): while a hook runs without reaching a
// host wait, no other request of the listener moves. The loop marks when it gets control
// back; a run longer than the listener's stall_warning is logged with the hook and peer,
// rate-limited per listener.
//
// The cost on the hot path is one steady-clock read per run and a comparison; with
// stall_warning 0, a branch. A hook that never returns is not seen here (the loop never
// gets control back to measure it).
#pragma once

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/log_rate_limit.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/host/worker/request_intake.hpp>

#include <chrono>
#include <string>

namespace sockhost {

class StallWatch {
public:
    // `who`: "tcp://127.0.0.1:8080 (plugin spin)"; `loop`: what stalled ("reactor", "server").
    StallWatch(std::chrono::milliseconds threshold, std::string who, std::string loop)
        : threshold_(threshold), enabled_(threshold.count() > 0), who_(std::move(who)), loop_(std::move(loop)) {}

    // The loop has control again after a wait (epoll_wait, poll, a host wait): plugin code
    // may run from now on.
    void restart() {
        if (enabled_) mark_ = Clock::now();
    }
    // `request`'s hooks have given control back to the loop: checks the run since the mark.
    void lap(const Request &request) {
        if (!enabled_) return;
        const auto now = Clock::now();
        if (now - mark_ > threshold_) [[unlikely]] report(now, request);
        else mark_ = now;
    }
    // RequestIntake::take returned: the verify hook of the request it took, if any, ran.
    void lap_verify(const RequestIntake &intake) {
        if (!enabled_) return;
        const auto now = Clock::now();
        if (now - mark_ > threshold_) [[unlikely]] report_verify(now, intake);
        else mark_ = now;
    }

private:
    void report(Clock::time_point now, const Request &request);
    void report_verify(Clock::time_point now, const RequestIntake &intake);
    void warn(Clock::time_point now, std::string_view hook, const std::string &peer);

    Clock::duration threshold_;
    bool enabled_;
    Clock::time_point mark_{};
    std::string who_;
    std::string loop_;
    LogRateLimit log_limit_;
};

}  // namespace sockhost
