// socketserver's "select-based multiplexing", with blocking-style handlers: each request
// runs on its own fiber over one epoll loop on the serving thread. A host read, write or
// sleep that would block suspends the fiber (FiberWaiter) and the loop runs the others.
// The loop accepts in batches up to max_connections live requests; beyond that, clients
// wait in the listen backlog (datagrams in the socket's receive queue). Fibers and their
// stacks are kept for the next request: none is mapped per request once warm.
// A fiber that runs long without a host wait holds up the whole loop: each run is timed
// (one clock read per resume) and one over stall_warning is logged (StallWatch).
#include <sockhost/host/worker/modes/concurrency_mode.hpp>
#include <sockhost/host/worker/modes/event_loop.hpp>
#include <sockhost/host/worker/modes/fiber.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

#include <sys/eventfd.h>

#include <atomic>
#include <exception>
#include <string>

namespace sockhost {

namespace {

// Accepted per round of the loop at most, so that a flood of new connections cannot starve
// the requests already running.
constexpr int kAcceptBatch = 128;
// While connections handed over at a reload are queued (thousands may come at once), fewer
// per round: adopting one costs more than an accept, and the requests already running
// wait for the round to end.
constexpr int kHandedOverBatch = 2;
// Idle fibers kept for the next requests; beyond these, an ended request's fiber and stack
// are freed, so that the memory of a burst of connections is given back.
constexpr std::size_t kIdleFibersKept = 1024;
// After EMFILE/ENOMEM on accept: accepting again at once would spin.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

class EventMode final : public ConcurrencyMode {
public:
    EventMode(Handler &handler, int max_connections, std::size_t stack_size, StallWarning stall_warning,
              EventLoop loop, UniqueFd idle_fd)
        : handler_(handler),
          max_connections_(static_cast<std::size_t>(max_connections)),
          stack_size_(stack_size),
          stall_watch_(stall_warning.threshold, std::move(stall_warning.who), "reactor"),
          idle_fd_(std::move(idle_fd)),
          loop_(std::move(loop)) {}

    Result<void> serve(RequestIntake &intake) override;
    void dispatch(std::unique_ptr<Request> request) override;
    bool at_capacity() const override { return live_.load(std::memory_order_relaxed) >= max_connections_; }
    std::size_t in_flight() const override { return live_.load(std::memory_order_relaxed); }

    // serve() itself runs its requests to their end after the stop. These let another
    // thread wait for that (Server::wait_idle, close) while the loop still runs.
    void append_wake_fds(std::vector<int> &fds) const override { fds.push_back(idle_fd_.get()); }
    void collect_finished() override {
        eventfd_t ignored = 0;
        ::eventfd_read(idle_fd_.get(), &ignored);
    }
    void terminate_remaining() override {
        // The cancel fd is set: every wait fails, so the requests end soon. A handler
        // stuck outside host calls cannot be stopped safely; this waits for it (documented).
        while (!wait_idle(Clock::now() + std::chrono::seconds(1))) {
        }
    }

private:
    struct FiberHolder {
        explicit FiberHolder(FiberStack stack) : stored_fiber(std::move(stack)) {}
        Fiber stored_fiber;
    };
    // A fiber, its waiter and the request it runs (none while it is idle in the pool).
    struct Task : FiberHolder, FiberWaiter {
        Task(EventMode &owner, FiberStack stack)
            : FiberHolder(std::move(stack)), FiberWaiter(owner.loop_, stored_fiber), mode(owner) {}
        EventMode &mode;
        std::unique_ptr<Request> request;
        std::size_t index = 0;  // in tasks_
    };

    static void run(void *task) noexcept;
    Task *idle_task();
    void retire(Task &task);
    void take_requests(RequestIntake &intake);
    void run_ready();
    Result<void> watch(const RequestIntake &intake, int fd, std::uint32_t events, IoSlot &slot);

    Handler &handler_;
    std::size_t max_connections_;
    std::size_t stack_size_;
    StallWatch stall_watch_;
    UniqueFd idle_fd_;  // eventfd: set when the last request ends after the stop
    // Declared before the tasks: their waiters refer to it.
    EventLoop loop_;
    std::vector<std::unique_ptr<Task>> tasks_;  // every fiber, owned here
    std::vector<Task *> idle_tasks_;
    std::vector<FiberWaiter *> ready_;
    std::atomic<std::size_t> live_{0};
    IoSlot stop_slot_;
    IoSlot cancel_slot_;
    IoSlot listener_slot_;
    IoSlot handed_over_slot_;
    bool accept_pending_ = true;
    std::optional<Clock::time_point> accept_resumes_at_;
};

Result<void> EventMode::watch(const RequestIntake &intake, int fd, std::uint32_t events, IoSlot &slot) {
    if (auto added = loop_.add(fd, events, slot); !added)
        return fail(intake.listener_text() + ": " + added.error().message);
    return {};
}

Result<void> EventMode::serve(RequestIntake &intake) {
    const StackOverflowReport overflow_report(stack_size_);
    // The stop and cancel eventfds are set once and never cleared: edge-triggered, each is
    // reported once (also when it was set before this loop started).
    if (auto watched = watch(intake, intake.stop_fd(), EPOLLIN, stop_slot_); !watched) return watched;
    if (auto watched = watch(intake, intake.cancel_fd(), EPOLLIN, cancel_slot_); !watched) return watched;
    // Datagram requests also wait on the listener's socket, to send their replies.
    if (auto watched = watch(intake, intake.listener_fd(), EPOLLIN, listener_slot_); !watched) return watched;
    loop_.set_shared_slot(&listener_slot_);
    // Connections handed over by another worker are taken like accepted ones.
    if (intake.handed_over_fd() >= 0) {
        if (auto watched = watch(intake, intake.handed_over_fd(), EPOLLIN, handed_over_slot_); !watched) return watched;
    }

    for (;;) {
        stall_watch_.restart();  // out of epoll_wait: the runs of this round start
        const bool stopping = loop_.stopping();  // the stop fd was seen
        if (accept_resumes_at_ && Clock::now() >= *accept_resumes_at_) {
            accept_resumes_at_.reset();
            accept_pending_ = true;
        }
        if (!stopping && accept_pending_ && !accept_resumes_at_) take_requests(intake);
        run_ready();
        // Stopping: the listener is left alone; the loop runs until its requests end.
        if (stopping && in_flight() == 0) break;
        // A request that ended may have made room for a connection accepted before.
        const bool can_accept_more = !stopping && accept_pending_ && !accept_resumes_at_ && !at_capacity();
        std::optional<Clock::time_point> wake_by = stopping ? std::nullopt : accept_resumes_at_;
        if (can_accept_more) wake_by = Clock::now();
        for (const epoll_event &event : loop_.poll(wake_by)) {
            auto *slot = static_cast<IoSlot *>(event.data.ptr);
            if (slot == &stop_slot_) {
                loop_.stop_idle_waits();
            } else if (slot == &cancel_slot_) {
                loop_.cancel_all();
            } else if (slot == &handed_over_slot_) {
                accept_pending_ = true;
            } else {
                if (slot == &listener_slot_ && (event.events & EPOLLIN) != 0) accept_pending_ = true;
                loop_.wake_waiters(*slot, event.events);
            }
        }
    }
    loop_.set_shared_slot(nullptr);
    if (intake.handed_over_fd() >= 0) loop_.remove(intake.handed_over_fd());
    loop_.remove(intake.listener_fd());
    loop_.remove(intake.cancel_fd());
    loop_.remove(intake.stop_fd());
    return {};
}

void EventMode::take_requests(RequestIntake &intake) {
    switch (take_batch(intake, intake.handed_over_waiting() ? kHandedOverBatch : kAcceptBatch, &stall_watch_)) {
    case BatchEnd::full: break;  // accept_pending_ stays set: retried next round, or when one ends
    case BatchEnd::drained: accept_pending_ = false; break;
    case BatchEnd::exhausted:
        accept_pending_ = false;
        accept_resumes_at_ = Clock::now() + kAcceptPause;
        break;
    }
}

EventMode::Task *EventMode::idle_task() {
    if (!idle_tasks_.empty()) {
        Task *task = idle_tasks_.back();
        idle_tasks_.pop_back();
        return task;
    }
    auto stack = FiberStack::map(stack_size_);
    if (!stack) {
        log_error(std::string(handler_.name()) + ": " + stack.error().message);
        return nullptr;
    }
    try {
        tasks_.push_back(std::make_unique<Task>(*this, std::move(*stack)));
        tasks_.back()->index = tasks_.size() - 1;
    } catch (const std::bad_alloc &) {
        log_error(std::string(handler_.name()) + ": out of memory for a fiber");
        return nullptr;
    }
    return tasks_.back().get();
}

void EventMode::dispatch(std::unique_ptr<Request> request) {
    Task *task = idle_task();
    if (task == nullptr) return;  // logged; the request's connection closes here
    if (const int fd = request->connection_fd(); fd >= 0) {
        // Registered once (output is added only if a write ever has to wait); the socket
        // leaves the set when it closes.
        if (auto added = loop_.add(fd, EPOLLIN, task->connection()); !added) {
            log_error(std::string(handler_.name()) + ": " + request->peer_text() + ": " + added.error().message);
            idle_tasks_.push_back(task);
            return;
        }
    }
    request->set_waiter(*task);
    task->request = std::move(request);
    task->fiber().assign(&EventMode::run, task);
    live_.fetch_add(1, std::memory_order_relaxed);
    loop_.schedule(*task);
}

void EventMode::retire(Task &task) {
    // A loop that stops keeps them all: they are given back at once when the worker exits,
    // not one munmap (and its TLB shootdown on the other cores) per connection that ends or
    // moves to the next generation.
    if (idle_tasks_.size() < kIdleFibersKept || loop_.stopping()) {
        idle_tasks_.push_back(&task);
        return;
    }
    // The fiber is parked: destroying it ends its context, and its stack is unmapped.
    const std::size_t index = task.index;
    std::swap(tasks_[index], tasks_.back());
    tasks_[index]->index = index;
    tasks_.pop_back();
}

void EventMode::run(void *argument) noexcept {
    auto &task = *static_cast<Task *>(argument);
    try {
        run_request(task.mode.handler_, *task.request);
    } catch (const std::exception &error) {  // the host's own failure, e.g. out of memory
        log_error(std::string(task.mode.handler_.name()) + ": " + task.request->peer_text() + ": " + error.what());
    }
    // The loop closes the request once it has timed this last run (run_ready).
}

void EventMode::run_ready() {
    loop_.take_ready(ready_);
    for (FiberWaiter *waiter : ready_) {
        auto &task = static_cast<Task &>(*waiter);
        task.fiber().resume();
        // Runs follow each other: one clock read ends this one and starts the next.
        stall_watch_.lap(*task.request);
        if (task.fiber().parked()) {  // its request has ended
            // Closing the socket takes it out of the epoll set, unless another process
            // holds the same socket: a connection handed over must be taken out first.
            if (task.request->handed_off() || task.request->received_handoff_state()) [[unlikely]]
                loop_.remove(task.request->connection_fd());
            task.request.reset();
            task.connection().fd = -1;
            retire(task);
            if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1 && loop_.stopping())
                ::eventfd_write(idle_fd_.get(), 1);
        }
    }
}

}  // namespace

Result<std::unique_ptr<ConcurrencyMode>> make_event_mode(Handler &handler, int max_connections,
                                                         std::size_t fiber_stack_size, StallWarning stall_warning) {
    auto loop = EventLoop::create();
    if (!loop) return std::unexpected(loop.error());
    UniqueFd idle_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!idle_fd) return fail_errno("event mode: eventfd");
    return std::make_unique<EventMode>(handler, max_connections, fiber_stack_size, std::move(stall_warning),
                                       std::move(*loop), std::move(idle_fd));
}

}  // namespace sockhost
