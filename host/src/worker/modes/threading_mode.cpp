// socketserver's ThreadingMixIn: a thread per request, at most `max_threads` alive; each
// ended thread is joined by the accepting loop, so none outlives its request for long.
#include <sockhost/host/worker/modes/concurrency_mode.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/eventfd.h>

#include <atomic>
#include <list>
#include <string>
#include <system_error>
#include <thread>

namespace sockhost {

namespace {

class ThreadingMode final : public BlockingMode {
public:
    ThreadingMode(Handler &handler, int max_threads, UniqueFd ended_fd)
        : handler_(handler), max_threads_(max_threads), ended_fd_(std::move(ended_fd)) {}

    ~ThreadingMode() override {
        for (auto &worker : workers_) worker.thread.join();
    }

    void dispatch(std::unique_ptr<Request> request) override {
        auto &worker = workers_.emplace_back();
        try {
            // The thread takes ownership; `request` keeps it only if the thread never starts.
            worker.thread = std::thread([this, &ended = worker.ended, raw = request.get()] {
                std::unique_ptr<Request> owned(raw);
                run_request(handler_, *owned);
                owned.reset();  // close the connection before the thread is counted as ended
                ended.store(true, std::memory_order_release);
                ::eventfd_write(ended_fd_.get(), 1);
            });
            (void)request.release();
        } catch (const std::system_error &error) {
            workers_.pop_back();
            log_error(std::string(handler_.name()) + ": cannot start a thread for " + request->peer_text() + ": " +
                      error.what());
        }
    }

    bool at_capacity() const override { return workers_.size() >= static_cast<std::size_t>(max_threads_); }

    void append_wake_fds(std::vector<int> &fds) const override { fds.push_back(ended_fd_.get()); }

    void collect_finished() override {
        eventfd_t ignored = 0;
        ::eventfd_read(ended_fd_.get(), &ignored);
        for (auto worker = workers_.begin(); worker != workers_.end();) {
            if (worker->ended.load(std::memory_order_acquire)) {
                worker->thread.join();
                worker = workers_.erase(worker);
            } else {
                ++worker;
            }
        }
    }

    void terminate_remaining() override {
        // The cancel fd ends every host I/O wait; a handler stuck outside host calls
        // cannot be stopped safely, so this waits for it (documented).
        for (auto &worker : workers_) worker.thread.join();
        workers_.clear();
    }

    std::size_t in_flight() const override { return workers_.size(); }

private:
    struct Worker {
        std::thread thread;
        std::atomic<bool> ended{false};
    };

    Handler &handler_;
    int max_threads_;
    UniqueFd ended_fd_;
    std::list<Worker> workers_;  // stable addresses: each thread sets its own `ended`
};

}  // namespace

Result<std::unique_ptr<ConcurrencyMode>> make_threading_mode(Handler &handler, int max_threads) {
    UniqueFd ended_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!ended_fd) return fail_errno("threading mode: eventfd");
    return std::make_unique<ThreadingMode>(handler, max_threads, std::move(ended_fd));
}

}  // namespace sockhost
