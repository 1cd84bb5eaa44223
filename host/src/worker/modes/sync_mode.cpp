// socketserver's synchronous server: one request at a time, on the accepting thread.
// While a hook runs, the listener serves nothing else: a run of plugin code longer than
// stall_warning (from the loop's wake-up or the end of a host wait to the next host wait
// or the request's end) is logged once it ends. Time in host waits is not counted: that
// is the client's pace, not the plugin's.
#include <sockhost/host/worker/modes/concurrency_mode.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

namespace sockhost {

namespace {

// The request's own waiter, with the stall watch's lap before each wait and its restart
// after: two clock reads per wait, beside a poll(2).
class WatchedWaiter final : public IoWaiter {
public:
    explicit WatchedWaiter(StallWatch &watch) : watch_(watch) {}

    void watch(Request &request) {
        inner_ = &request.waiter();
        request_ = &request;
        request.set_waiter(*this);
    }

    WaitResult wait_for(int fd, short events, std::optional<Clock::time_point> deadline, bool idle) override {
        watch_.lap(*request_);
        const WaitResult result = inner_->wait_for(fd, events, deadline, idle);
        watch_.restart();
        return result;
    }
    WaitResult sleep_until(Clock::time_point wake_time) override {
        watch_.lap(*request_);
        const WaitResult result = inner_->sleep_until(wake_time);
        watch_.restart();
        return result;
    }
    bool stopping() const override { return inner_->stopping(); }

private:
    StallWatch &watch_;
    IoWaiter *inner_ = nullptr;
    const Request *request_ = nullptr;
};

class SyncMode final : public BlockingMode {
public:
    SyncMode(Handler &handler, StallWarning stall_warning)
        : handler_(handler), watch_(stall_warning.threshold, std::move(stall_warning.who), "server"), waiter_(watch_) {
        stall_watch_ = &watch_;
    }

    void dispatch(std::unique_ptr<Request> request) override {
        waiter_.watch(*request);
        run_request(handler_, *request);
        watch_.lap(*request);
    }

private:
    Handler &handler_;
    StallWatch watch_;
    WatchedWaiter waiter_;
};

}  // namespace

Result<std::unique_ptr<ConcurrencyMode>> make_sync_mode(Handler &handler, StallWarning stall_warning) {
    return std::make_unique<SyncMode>(handler, std::move(stall_warning));
}

}  // namespace sockhost
