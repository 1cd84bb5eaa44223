#include <sockhost/host/worker/request_tally.hpp>

#include <sockhost/host/worker/access_log.hpp>

#include <chrono>

namespace sockhost {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

std::size_t duration_bucket(double seconds) {
    for (std::size_t index = 0; index < kDurationBounds.size(); ++index)
        if (seconds <= kDurationBounds[index]) return index;
    return kDurationBounds.size();  // +Inf
}

std::int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

void count_request_end(ListenerCounters &counters, RequestOutcome outcome, Clock::duration duration) {
    const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
    counters.requests[static_cast<std::size_t>(outcome)].fetch_add(1, relaxed);
    counters.duration_buckets[duration_bucket(static_cast<double>(nanoseconds) / 1e9)].fetch_add(1, relaxed);
    counters.duration_sum_ns.fetch_add(static_cast<std::uint64_t>(nanoseconds > 0 ? nanoseconds : 0), relaxed);
}

void RequestTally::start(const ListenerAccounting *accounting, bool stream, bool accepted) {
    if (accounting == nullptr || (accounting->counters == nullptr && accounting->access_log == nullptr)) return;
    accounting_ = accounting;
    started_ = Clock::now();
    open_connection_ = stream;
    if (ListenerCounters *counters = accounting->counters; counters != nullptr && stream) {
        counters->connections_open.fetch_add(1, relaxed);
        if (accepted) counters->connections_accepted.fetch_add(1, relaxed);
    }
}

RequestOutcome RequestTally::outcome(bool succeeded) const {
    if (failed_wait_ == WaitResult::timed_out) return RequestOutcome::timeout;
    if (failed_wait_ == WaitResult::cancelled) return RequestOutcome::cancelled;
    return succeeded ? RequestOutcome::ok : RequestOutcome::error;
}

void RequestTally::add_bytes_so_far() {
    if (accounting_ == nullptr) return;
    received_total_ += received_;
    sent_total_ += sent_;
    if (ListenerCounters *counters = accounting_->counters; counters != nullptr) {
        if (received_ != 0) counters->received_bytes.fetch_add(received_, relaxed);
        if (sent_ != 0) counters->sent_bytes.fetch_add(sent_, relaxed);
    }
    received_ = 0;
    sent_ = 0;
}

void RequestTally::end(RequestOutcome outcome, const SocketAddress &peer) {
    if (!counting()) return;
    ended_ = true;
    add_bytes_so_far();
    const Clock::duration duration = Clock::now() - started_;
    if (ListenerCounters *counters = accounting_->counters; counters != nullptr) {
        count_request_end(*counters, outcome, duration);
        if (open_connection_) counters->connections_open.fetch_sub(1, relaxed);
    }
    if (AccessLog *log = accounting_->access_log; log != nullptr && writes_log_line_)
        log->append(format_access_log_line(
            {&peer, &accounting_->listener, &accounting_->plugin, outcome_name(outcome),
             std::chrono::duration<double>(duration).count(), received_total_, sent_total_},
            wall_clock_ms()));
}

void RequestTally::end_handed_off() {
    if (!counting()) return;
    ended_ = true;
    add_bytes_so_far();
    if (ListenerCounters *counters = accounting_->counters; counters != nullptr && open_connection_)
        counters->connections_open.fetch_sub(1, relaxed);
}

void RequestTally::take_over(RequestTally &request) {
    accounting_ = request.accounting_;
    started_ = request.started_;
    open_connection_ = request.open_connection_;
    ended_ = request.ended_;
    writes_log_line_ = false;
    request.ended_ = true;
}

void RequestTally::end_counted_by_child() {
    if (!counting()) return;
    ended_ = true;
    if (ListenerCounters *counters = accounting_->counters; counters != nullptr && open_connection_)
        counters->connections_open.fetch_sub(1, relaxed);
}

}  // namespace sockhost
